"""ObjectMeta validation with apimachinery's rules and messages (names, labels, annotations,
finalizers, owner references): an operator that writes an invalid label here fails here,
not only in production."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.emulator.apiserver.errors import Cause

_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = rf"{_LABEL}(\.{_LABEL})*"
_DNS1035 = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QNAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    # apimachinery's RegexError, double space before "or" included.
    eg = "".join(f"{' or ' if i else ''}'{e}', " for i, e in enumerate(examples))
    return f"{msg} (e.g. {eg}regex used for validation is '{fmt}')"


SUBDOMAIN_MSG = _regex_error(
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character",
    _SUBDOMAIN,
    "example.com",
)
LABEL_MSG = _regex_error(
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character",
    _LABEL,
    "my-name",
    "123-abc",
)
DNS1035_MSG = _regex_error(
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character",
    _DNS1035,
    "my-name",
    "abc-123",
)
_QNAME_MSG = _regex_error(
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character",
    _QNAME,
    "MyName",
    "my.name",
    "123-abc",
)
_LABEL_VALUE_MSG = _regex_error(
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character",
    _LABEL_VALUE,
    "MyValue",
    "my_value",
    "12345",
)
MAX_ANNOTATIONS = 256 * 1024


def _q(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else str(value)


def name_errors(name: str, style: str) -> list[str]:
    """`style`: subdomain (most kinds), label (namespaces), dns1035 (services)."""
    limit, pattern, msg = {
        "subdomain": (253, _SUBDOMAIN, SUBDOMAIN_MSG),
        "label": (63, _LABEL, LABEL_MSG),
        "dns1035": (63, _DNS1035, DNS1035_MSG),
    }[style]
    errs = []
    if len(name) > limit:
        errs.append(f"must be no more than {limit} characters")
    if not re.fullmatch(pattern, name):
        errs.append(msg)
    return errs


def qualified_name_errors(value: str) -> list[str]:
    parts = value.split("/")
    if len(parts) > 2:
        return [
            "a qualified name "
            + _QNAME_MSG.removeprefix("name part ")[:-1]
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    name = parts[-1]
    errs = []
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += [f"prefix part {e}" for e in name_errors(prefix, "subdomain")]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if name and not re.fullmatch(_QNAME, name):
        errs.append(_QNAME_MSG)
    return errs


def label_value_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not re.fullmatch(_LABEL_VALUE, value):
        errs.append(_LABEL_VALUE_MSG)
    return errs


def validate_meta(meta: dict[str, Any], name_style: str) -> list[Cause]:
    causes: list[Cause] = []
    name = meta.get("name", "")
    if not isinstance(name, str):
        return [Cause("metadata.name", f"Invalid value: {_q(name)}: must be a string")]
    causes += [
        Cause("metadata.name", f"Invalid value: {_q(name)}: {e}")
        for e in name_errors(name, name_style)
    ]
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        return [*causes, Cause("metadata.labels", "Invalid value: must be a map of strings")]
    for key, value in labels.items():
        causes += [
            Cause("metadata.labels", f"Invalid value: {_q(key)}: {e}")
            for e in qualified_name_errors(key)
        ]
        if not isinstance(value, str):
            causes.append(Cause("metadata.labels", f"Invalid value: {_q(value)}: must be a string"))
        else:
            causes += [
                Cause("metadata.labels", f"Invalid value: {_q(value)}: {e}")
                for e in label_value_errors(value)
            ]
    annotations = meta.get("annotations") or {}
    if not isinstance(annotations, dict):
        return [*causes, Cause("metadata.annotations", "Invalid value: must be a map of strings")]
    size = 0
    for key, value in annotations.items():
        causes += [  # checked in lower case, reported as written (apimachinery)
            Cause("metadata.annotations", f"Invalid value: {_q(key)}: {e}")
            for e in qualified_name_errors(key.lower())
        ]
        if not isinstance(value, str):
            causes.append(
                Cause("metadata.annotations", f"Invalid value: {_q(value)}: must be a string")
            )
        size += len(key) + len(str(value))
    if size > MAX_ANNOTATIONS:
        causes.append(
            Cause(
                "metadata.annotations",
                f"Too long: may not be more than {MAX_ANNOTATIONS} bytes",
                "FieldValueTooLong",
            )
        )
    for i, fin in enumerate(meta.get("finalizers") or []):
        field = f"metadata.finalizers[{i}]"
        if not isinstance(fin, str):
            causes.append(Cause(field, f"Invalid value: {_q(fin)}: must be a string"))
            continue
        causes += [
            Cause(field, f"Invalid value: {_q(fin)}: {e}") for e in qualified_name_errors(fin)
        ]
    for i, ref in enumerate(meta.get("ownerReferences") or []):
        for part in ("apiVersion", "kind", "name", "uid"):
            if not (isinstance(ref, dict) and ref.get(part)):
                causes.append(
                    Cause(
                        f"metadata.ownerReferences[{i}].{part}",
                        f'Invalid value: "": {part} must not be empty',
                    )
                )
    return causes


def new_finalizers_while_deleting(old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    """Once deletion is requested, finalizers can only go away (ValidateNoNewFinalizers)."""
    if not old.get("deletionTimestamp"):
        return []
    extra = sorted(set(new.get("finalizers") or []) - set(old.get("finalizers") or []))
    if not extra:
        return []
    listed = "[]string{" + ", ".join(json.dumps(f) for f in extra) + "}"
    return [
        Cause(
            "metadata.finalizers",
            "Forbidden: no new finalizers can be added if the object is being deleted, "
            f"found new finalizers {listed}",
            "FieldValueForbidden",
        )
    ]
