"""Validates custom objects as kube-apiserver does with a structural CRD schema.

Order, as in the server: prune unknown fields, default (non-nullable nulls are
dropped), validate the OpenAPI schema and list types, then evaluate the
`x-kubernetes-validations` CEL rules (skipped when a type error would make them
meaningless, as the server does); on update, errors about unchanged values are
ratcheted away (CRDValidationRatcheting, GA since 1.33).
"""

from __future__ import annotations

from typing import Any

from tests.emulator.apiserver import cel
from tests.emulator.apiserver.errors import Cause
from tests.emulator.apiserver.schema import (
    apply_defaults,
    list_type_causes,
    prune,
    prune_collect,
    ratchet,
    schema_causes,
)

__all__ = ["Cause", "apply_defaults", "prune", "prune_collect", "validate"]

_NOT_CHECKED = (
    'Invalid value: "object": some validation rules were not checked because the object was '
    "invalid; correct the existing errors to complete validation"
)


def validate(
    obj: dict[str, Any], old: dict[str, Any] | None, schema: dict[str, Any]
) -> list[Cause]:
    causes = schema_causes(obj, schema) + list_type_causes(obj, schema)
    if any(c.reason == "FieldValueTypeInvalid" for c in causes):
        causes.append(Cause("<nil>", _NOT_CHECKED))
    else:
        causes += cel.check(obj, old, schema, [], old is not None)
    if old is not None:
        causes = ratchet(causes, obj, old)
        if [c.message for c in causes] == [_NOT_CHECKED]:
            return []  # every type error was on an unchanged value
    return causes
