"""Validates custom objects as a real API server does with a structural CRD schema.

Order, as in kube-apiserver: prune unknown fields, apply defaults, validate the
OpenAPI schema, then evaluate `x-kubernetes-validations` CEL rules (transition
rules, those using `oldSelf`, only on update when an old value exists).
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

import celpy
import jsonschema

Cause = tuple[str, str]


def _path(parts: list[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def prune(obj: Any, schema: dict[str, Any] | None, root: bool = True) -> Any:
    if schema is None or not isinstance(obj, dict | list):
        return obj
    if isinstance(obj, list):
        items = schema.get("items")
        return [prune(v, items, False) for v in obj]
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        props = schema.get("properties") or {}
        return {k: prune(v, props.get(k), False) if k in props else v for k, v in obj.items()}
    props = schema.get("properties")
    additional = schema.get("additionalProperties")
    if props is None and isinstance(additional, dict):
        return {k: prune(v, additional, False) for k, v in obj.items()}
    if props is None:
        return obj
    keep = {}
    for k, v in obj.items():
        if k in props:
            keep[k] = prune(v, props[k], False)
        elif root and k in ("apiVersion", "kind", "metadata"):
            keep[k] = v
    return keep


def apply_defaults(obj: Any, schema: dict[str, Any] | None) -> Any:
    if schema is None:
        return obj
    if isinstance(obj, dict):
        props = schema.get("properties") or {}
        for name, sub in props.items():
            if name not in obj and "default" in sub:
                obj[name] = copy.deepcopy(sub["default"])
            if name in obj:
                obj[name] = apply_defaults(obj[name], sub)
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            for k in list(obj):
                if k not in props:
                    obj[k] = apply_defaults(obj[k], additional)
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(v, schema["items"]) for v in obj]
    return obj


def _to_jsonschema(schema: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "properties":
            out[key] = {k: _to_jsonschema(v) for k, v in value.items()}
        elif (key == "items" and isinstance(value, dict)) or (
            key == "additionalProperties" and isinstance(value, dict)
        ):
            out[key] = _to_jsonschema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [_to_jsonschema(v) for v in value]
        elif key.startswith("x-kubernetes-") or key in (
            "nullable",
            "default",
            "description",
            "format",
        ):
            continue
        else:
            out[key] = value
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


@lru_cache(maxsize=256)
def _compiled(rule: str) -> Any:
    env = celpy.Environment()
    return env.program(env.compile(rule), functions=_CEL_FUNCTIONS)


def _is_sorted(values: Any) -> Any:
    items = list(values)
    return celpy.celtypes.BoolType(all(items[i] <= items[i + 1] for i in range(len(items) - 1)))


# Kubernetes' CEL list library (a subset) on top of cel-python's standard functions.
_CEL_FUNCTIONS = {"isSorted": _is_sorted}


def _walk_cel(
    value: Any,
    old: Any,
    schema: dict[str, Any],
    path: list[Any],
    causes: list[Cause],
    has_old: bool,
) -> None:
    for rule in schema.get("x-kubernetes-validations") or []:
        text = rule["rule"]
        transition = "oldSelf" in text
        if transition and not has_old:
            continue
        activation = {"self": celpy.json_to_cel(value)}
        if transition:
            activation["oldSelf"] = celpy.json_to_cel(old)
        try:
            ok = _compiled(text).evaluate(activation)
        except Exception as exc:  # a rule that cannot evaluate is a failure, as in the server
            causes.append(
                (_path(path) or "<root>", f"Invalid value: rule {text!r} failed to evaluate: {exc}")
            )
            continue
        if not bool(ok):
            field = _path(path + [p for p in rule.get("fieldPath", "").split(".") if p])
            causes.append(
                (
                    field or "<root>",
                    f'Invalid value: "object": {rule.get("message") or "failed rule: " + text}',
                )
            )
    if isinstance(value, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name in value:
                old_sub = old.get(name) if isinstance(old, dict) else None
                _walk_cel(
                    value[name],
                    old_sub,
                    sub,
                    [*path, name],
                    causes,
                    has_old and isinstance(old, dict) and name in old,
                )
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            # Lists are atomic by default: items have no correlated old value.
            _walk_cel(item, None, schema["items"], [*path, i], causes, False)


def validate(
    obj: dict[str, Any], old: dict[str, Any] | None, schema: dict[str, Any]
) -> list[Cause]:
    causes: list[Cause] = []
    validator = jsonschema.Draft4Validator(_to_jsonschema(schema))
    for error in sorted(
        validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path]
    ):
        parts = list(error.absolute_path)
        if error.validator == "required" and "'" in error.message:
            parts.append(error.message.split("'")[1])
        causes.append((_path(parts) or "<root>", _message(error)))
    if causes:
        return causes
    _walk_cel(obj, old, schema, [], causes, old is not None)
    return causes


def _message(error: jsonschema.ValidationError) -> str:
    field = _path(list(error.absolute_path))
    value = error.instance
    v = error.validator
    if v == "maximum":
        return f"Invalid value: {value}: {field} in body should be less than or equal to {error.validator_value}"
    if v == "minimum":
        return f"Invalid value: {value}: {field} in body should be greater than or equal to {error.validator_value}"
    if v == "required":
        return "Required value"
    if v == "enum":
        allowed = ", ".join(f'"{x}"' for x in error.validator_value if x is not None)
        return f'Unsupported value: "{value}": supported values: {allowed}'
    if v == "pattern":
        return f"Invalid value: \"{value}\": {field} in body should match '{error.validator_value}'"
    if v == "type":
        return f'Invalid value: "{value}": {field} in body must be of type {error.validator_value}'
    if v in ("maxLength", "minLength", "maxItems", "minItems"):
        return f"Invalid value: {value!r}: {error.message}"
    return f"Invalid value: {error.message}"
