"""Structural-schema semantics of a CRD's openAPIV3Schema: pruning, defaulting, nulls, and
OpenAPI validation (with `jsonschema`) worded as kube-apiserver words its field errors."""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from typing import Any

import jsonschema

from tests.emulator.apiserver.errors import Cause

OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)


def path_str(parts: list[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def path_parts(field: str) -> list[Any]:
    return [
        int(index) if index else name for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", field)
    ]


def _prune_meta(meta: Any, path: str, unknown: list[str]) -> Any:
    if not isinstance(meta, dict):
        return meta
    for key in [k for k in meta if k not in OBJECT_META_FIELDS]:
        unknown.append(f"{path}.{key}")
        del meta[key]
    return meta


def _prune(
    value: Any, schema: dict[str, Any] | None, path: list[Any], unknown: list[str], root: bool
) -> Any:
    if schema is None:
        return value
    if isinstance(value, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else None
        return [_prune(v, items, [*path, i], unknown, False) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    props = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    preserve = schema.get("x-kubernetes-preserve-unknown-fields")
    embedded = root or schema.get("x-kubernetes-embedded-resource")
    out: dict[str, Any] = {}
    for key, sub in value.items():
        if embedded and key in ("apiVersion", "kind"):
            out[key] = sub
        elif embedded and key == "metadata":  # always ObjectMeta, whatever the schema says
            out[key] = _prune_meta(sub, path_str([*path, key]), unknown)
        elif key in props:
            out[key] = _prune(sub, props[key], [*path, key], unknown, False)
        elif isinstance(additional, dict):
            out[key] = _prune(sub, additional, [*path, key], unknown, False)
        elif preserve or additional is True:
            out[key] = sub
        else:
            unknown.append(path_str([*path, key]))
    return out


def prune(obj: Any, schema: dict[str, Any] | None, root: bool = True) -> Any:
    """Drop fields the schema does not declare, as the server prunes them on write."""
    return _prune(obj, schema, [], [], root)


def prune_collect(obj: Any, schema: dict[str, Any] | None) -> tuple[Any, list[str]]:
    """`prune`, and the paths of the fields it dropped (for fieldValidation Warn/Strict)."""
    unknown: list[str] = []
    return _prune(obj, schema, [], unknown, True), unknown


def apply_defaults(obj: Any, schema: dict[str, Any] | None) -> Any:
    """Defaults for absent fields; a null where the schema is not `nullable` is dropped
    (or replaced by the default), as structural defaulting does."""
    if schema is None:
        return obj
    if isinstance(obj, dict):
        props = schema.get("properties") or {}
        for name, sub in props.items():
            if name in obj and obj[name] is None and not sub.get("nullable"):
                if "default" in sub:
                    obj[name] = copy.deepcopy(sub["default"])
                else:
                    del obj[name]
            elif name not in obj and "default" in sub:
                obj[name] = copy.deepcopy(sub["default"])
            if name in obj:
                obj[name] = apply_defaults(obj[name], sub)
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            for key in [k for k in obj if k not in props]:
                if obj[key] is None and not additional.get("nullable"):
                    if "default" in additional:
                        obj[key] = copy.deepcopy(additional["default"])
                    else:
                        del obj[key]
                        continue
                obj[key] = apply_defaults(obj[key], additional)
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(v, schema["items"]) for v in obj]
    return obj


_DROP = frozenset({"nullable", "default", "description", "format", "example", "title"})


def to_jsonschema(schema: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "properties":
            out[key] = {k: to_jsonschema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = to_jsonschema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_jsonschema(v) for v in value]
        elif key.startswith("x-kubernetes-") or key in _DROP:
            continue
        else:
            out[key] = value
    if schema.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(to_jsonschema(json.loads(schema_json)))


def go_value(value: Any) -> str:
    """A value as Go's field errors print it: strings quoted, numbers and bools bare."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value)


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _cause(error: jsonschema.ValidationError) -> Cause:
    parts = list(error.absolute_path)
    field = path_str(parts) or "<nil>"
    value, v, limit = error.instance, error.validator, error.validator_value
    body = f"{field} in body"
    if v == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        return Cause(path_str([*parts, missing]), "Required value", "FieldValueRequired")
    if v == "enum":
        # Go quotes every allowed value; non-strings are JSON-encoded first.
        allowed = ", ".join(
            json.dumps(x if isinstance(x, str) else json.dumps(x)) for x in limit if x is not None
        )
        return Cause(
            field,
            f"Unsupported value: {go_value(value)}: supported values: {allowed}",
            "FieldValueNotSupported",
        )
    if v == "type":
        expected = limit[0] if isinstance(limit, list) else limit
        actual = _type_of(value)
        return Cause(
            field,
            f'Invalid value: "{actual}": {body} must be of type {expected}: "{actual}"',
            "FieldValueTypeInvalid",
        )
    if v == "maximum":
        exclusive = error.schema.get("exclusiveMaximum") is True
        rel = "less than" if exclusive else "less than or equal to"
        return Cause(field, f"Invalid value: {go_value(value)}: {body} should be {rel} {limit}")
    if v == "minimum":
        exclusive = error.schema.get("exclusiveMinimum") is True
        rel = "greater than" if exclusive else "greater than or equal to"
        return Cause(field, f"Invalid value: {go_value(value)}: {body} should be {rel} {limit}")
    if v == "maxLength":
        return Cause(field, f"Too long: may not be more than {limit} bytes", "FieldValueTooLong")
    if v == "minLength":
        return Cause(
            field, f"Invalid value: {go_value(value)}: {body} should be at least {limit} chars long"
        )
    if v in ("maxItems", "maxProperties"):
        return Cause(
            field, f"Too many: {len(value)}: must have at most {limit} items", "FieldValueTooMany"
        )
    if v == "minItems":
        return Cause(
            field, f"Invalid value: {len(value)}: {body} should have at least {limit} items"
        )
    if v == "minProperties":
        return Cause(
            field, f"Invalid value: {len(value)}: {body} should have at least {limit} properties"
        )
    if v == "pattern":
        return Cause(field, f"Invalid value: {go_value(value)}: {body} should match '{limit}'")
    if v == "multipleOf":
        return Cause(
            field, f"Invalid value: {go_value(value)}: {body} should be a multiple of {limit}"
        )
    if v in ("anyOf", "oneOf"):
        which = "at least one schema (anyOf)" if v == "anyOf" else "one and only one schema (oneOf)"
        return Cause(field, f"Invalid value: {go_value(value)}: {body} must validate {which}")
    if v == "not":
        return Cause(
            field, f"Invalid value: {go_value(value)}: {body} must not validate the schema (not)"
        )
    return Cause(field, f"Invalid value: {go_value(value)}: {error.message}")


def schema_causes(obj: Any, schema: dict[str, Any]) -> list[Cause]:
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors = sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
    return [_cause(e) for e in errors]


def list_type_causes(
    value: Any, schema: dict[str, Any], path: list[Any] | None = None
) -> list[Cause]:
    """`x-kubernetes-list-type` set and map lists hold no duplicates."""
    path = path or []
    causes: list[Cause] = []
    if isinstance(value, list):
        list_type = schema.get("x-kubernetes-list-type")
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen: list[Any] = []
        for i, item in enumerate(value):
            ident = (
                tuple((item or {}).get(k) for k in keys)
                if list_type == "map" and isinstance(item, dict)
                else item
            )
            if list_type in ("set", "map") and ident in seen:
                shown = (
                    "map[string]interface {}{"
                    + ", ".join(f"{json.dumps(k)}:{json.dumps(item.get(k))}" for k in keys)
                    + "}"
                    if list_type == "map" and isinstance(item, dict)
                    else go_value(item)
                )
                causes.append(
                    Cause(path_str([*path, i]), f"Duplicate value: {shown}", "FieldValueDuplicate")
                )
            seen.append(ident)
            if isinstance(schema.get("items"), dict):
                causes += list_type_causes(item, schema["items"], [*path, i])
    elif isinstance(value, dict):
        props = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, sub in value.items():
            sub_schema = props.get(key) or (additional if isinstance(additional, dict) else None)
            if sub_schema is not None:
                causes += list_type_causes(sub, sub_schema, [*path, key])
    return causes


_MISSING = object()


def _lookup(obj: Any, parts: list[Any], other: Any) -> tuple[Any, Any]:
    """Values at `parts` in obj and other; lists are atomic: both must match whole to descend."""
    a, b = obj, other
    for part in parts:
        if isinstance(part, int):
            if not (isinstance(a, list) and isinstance(b, list)) or a != b:
                return _MISSING, object()
            a = a[part] if part < len(a) else _MISSING
            b = b[part] if part < len(b) else _MISSING
        else:
            a = a.get(part, _MISSING) if isinstance(a, dict) else _MISSING
            b = b.get(part, _MISSING) if isinstance(b, dict) else _MISSING
    return a, b


def ratchet(causes: list[Cause], new: Any, old: Any) -> list[Cause]:
    """CRD validation ratcheting (GA in 1.33): on update, errors about values left unchanged
    are dropped; failures of transition rules (those using oldSelf) are never ratcheted."""
    kept = []
    for cause in causes:
        if not cause.transition and cause.field != "<nil>":
            a, b = _lookup(new, path_parts(cause.field), old)
            if a == b:
                continue
        kept.append(cause)
    return kept
