"""`x-kubernetes-validations` CEL rules, evaluated with cel-python as kube-apiserver does.

`self` is the value at the schema node; transition rules (those naming `oldSelf`)
run only on update and only where the old value correlates: by property name in
objects, by key in maps, by `x-kubernetes-list-map-keys` in `map` lists (other
lists are atomic). Failures are worded as apiextensions does: `Invalid value:
"object": <message>` at the node's path (plus `fieldPath`), `reason` picks
Forbidden/Required/Duplicate, `messageExpression` overrides `message`.
Kubernetes' CEL libraries are partly provided: the list functions (isSorted,
sum, min, max, indexOf, lastIndexOf) and the strings extension (lowerAscii,
upperAscii, trim, replace, split, join, substring, charAt); quantity(),
url(), ip() and format() are not (a rule using them fails to evaluate).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import celpy
from celpy import celtypes

from tests.emulator.apiserver.errors import Cause


def _bool(value: bool) -> Any:
    return celtypes.BoolType(value)


def _is_sorted(values: Any) -> Any:
    items = list(values)
    return _bool(all(items[i] <= items[i + 1] for i in range(len(items) - 1)))


def _sum(values: Any) -> Any:
    items = list(values)
    if not items:
        return celtypes.IntType(0)
    total = items[0]
    for item in items[1:]:
        total = total + item
    return total


def _min(values: Any) -> Any:
    return min(list(values))


def _max(values: Any) -> Any:
    return max(list(values))


def _index_of(target: Any, item: Any) -> Any:
    if isinstance(target, str):
        return celtypes.IntType(str(target).find(str(item)))
    items = list(target)
    return celtypes.IntType(items.index(item) if item in items else -1)


def _last_index_of(target: Any, item: Any) -> Any:
    if isinstance(target, str):
        return celtypes.IntType(str(target).rfind(str(item)))
    items = list(target)
    return celtypes.IntType(len(items) - 1 - items[::-1].index(item) if item in items else -1)


def _s(value: Any) -> Any:
    return celtypes.StringType(value)


def _split(target: Any, sep: Any, limit: Any = None) -> Any:
    text, sep = str(target), str(sep)
    parts = list(text) if sep == "" else text.split(sep)
    if limit is not None and int(limit) > 0 and len(parts) > int(limit):
        head = parts[: int(limit) - 1]
        parts = [*head, sep.join(parts[int(limit) - 1 :])]
    return celtypes.ListType([_s(p) for p in parts])


def _join(target: Any, sep: Any = "") -> Any:
    return _s(str(sep).join(str(x) for x in target))


def _substring(target: Any, start: Any, end: Any = None) -> Any:
    text = str(target)
    return _s(text[int(start) :] if end is None else text[int(start) : int(end)])


def _replace(target: Any, old: Any, new: Any, limit: Any = None) -> Any:
    count = -1 if limit is None else int(limit)
    return _s(str(target).replace(str(old), str(new), count))


FUNCTIONS: dict[str, Any] = {
    "isSorted": _is_sorted,
    "sum": _sum,
    "min": _min,
    "max": _max,
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "lowerAscii": lambda s: _s(str(s).lower()),
    "upperAscii": lambda s: _s(str(s).upper()),
    "trim": lambda s: _s(str(s).strip()),
    "charAt": lambda s, i: _s(str(s)[int(i) : int(i) + 1]),
    "split": _split,
    "join": _join,
    "substring": _substring,
    "replace": _replace,
}


@lru_cache(maxsize=1024)
def compiled(rule: str) -> Any:
    env = celpy.Environment()
    return env.program(env.compile(rule), functions=FUNCTIONS)


def compile_error(rule: str) -> str | None:
    """A syntax error in `rule`, as the server reports it when the CRD is written."""
    try:
        celpy.Environment().compile(rule)
    except Exception as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


def _uses_old_self(rule: dict[str, Any]) -> bool:
    return re.search(r"\boldSelf\b", rule.get("rule", "")) is not None


def _path(parts: list[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _field_path_parts(field_path: str) -> list[Any]:
    """`.a.b`, `.a['b.c']`, `.a[0]` into path parts."""
    parts: list[Any] = []
    for name, quoted, index in re.findall(
        r"\.([A-Za-z0-9_$-]+)|\['([^']*)'\]|\[(\d+)\]", field_path
    ):
        parts.append(int(index) if index else name or quoted)
    return parts


def _type_name(schema: dict[str, Any], value: Any) -> str:
    if schema.get("type"):
        return str(schema["type"])
    if schema.get("x-kubernetes-int-or-string"):
        return "integer" if isinstance(value, int) else "string"
    return "object" if isinstance(value, dict) else "array" if isinstance(value, list) else ""


def _fail(
    schema: dict[str, Any],
    value: Any,
    rule: dict[str, Any],
    activation: dict[str, Any],
    path: list[Any],
) -> Cause:
    message = rule.get("message") or f"failed rule: {rule['rule'].strip()}"
    if rule.get("messageExpression"):
        try:
            produced = compiled(rule["messageExpression"]).evaluate(activation)
            if isinstance(produced, str) and produced.strip():
                message = str(produced)
        except Exception:  # the server falls back to `message` when the expression fails
            pass
    field = _path(path + _field_path_parts(rule.get("fieldPath", ""))) or "<nil>"
    typ = _type_name(schema, value)
    reason = rule.get("reason") or "FieldValueInvalid"
    if reason == "FieldValueForbidden":
        return Cause(field, f"Forbidden: {message}", reason)
    if reason == "FieldValueRequired":
        return Cause(field, f"Required value: {message}", reason)
    if reason == "FieldValueDuplicate":
        return Cause(field, f'Duplicate value: "{typ}"', reason)
    return Cause(field, f'Invalid value: "{typ}": {message}', "FieldValueInvalid")


def _map_list_key(item: Any, keys: list[str]) -> Any:
    return tuple(item.get(k) for k in keys) if isinstance(item, dict) else None


def check(
    value: Any,
    old: Any,
    schema: dict[str, Any],
    path: list[Any] | None = None,
    has_old: bool = False,
) -> list[Cause]:
    """All rule failures under `schema` for `value`; `old` is the correlated old value."""
    path = path or []
    causes: list[Cause] = []
    for rule in schema.get("x-kubernetes-validations") or []:
        transition = _uses_old_self(rule)
        if transition and not has_old and not rule.get("optionalOldSelf"):
            continue
        activation: dict[str, Any] = {"self": celpy.json_to_cel(value)}
        if transition:
            activation["oldSelf"] = celpy.json_to_cel(old) if has_old else None
        try:
            ok = compiled(rule["rule"]).evaluate(activation)
        except Exception as exc:
            causes.append(
                Cause(
                    _path(path) or "<nil>",
                    f'Invalid value: "{_type_name(schema, value)}": {exc} evaluating rule: {rule["rule"].strip()}',
                )
            )
            continue
        if isinstance(ok, celpy.CELEvalError):
            causes.append(
                Cause(
                    _path(path) or "<nil>",
                    f'Invalid value: "{_type_name(schema, value)}": {ok.args[0] if ok.args else ok} evaluating rule: {rule["rule"].strip()}',
                )
            )
        elif not bool(ok):
            causes.append(
                _fail(schema, value, rule, activation, path)._replace(transition=transition)
            )
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for name, sub in value.items():
            sub_schema = props.get(name) or (additional if isinstance(additional, dict) else None)
            if sub_schema is None:
                continue
            correlated = has_old and isinstance(old, dict) and name in old
            causes += check(
                sub, old.get(name) if correlated else None, sub_schema, [*path, name], correlated
            )
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        items_schema = schema["items"]
        keys = schema.get("x-kubernetes-list-map-keys") or []
        old_by_key = {}
        if has_old and schema.get("x-kubernetes-list-type") == "map" and isinstance(old, list):
            old_by_key = {_map_list_key(o, keys): o for o in old}
        for i, item in enumerate(value):
            key = _map_list_key(item, keys) if keys else None
            correlated = key is not None and key in old_by_key
            causes += check(
                item,
                old_by_key.get(key) if correlated else None,
                items_schema,
                [*path, i],
                correlated,
            )
    return causes


def rule_compile_causes(schema: Any, path: str) -> list[Cause]:
    """Syntax errors of every rule in a CRD schema, at the path a real server names."""
    causes: list[Cause] = []
    if not isinstance(schema, dict):
        return causes
    for i, rule in enumerate(schema.get("x-kubernetes-validations") or []):
        for key in ("rule", "messageExpression"):
            text = rule.get(key) if isinstance(rule, dict) else None
            if text and (err := compile_error(text)):
                causes.append(
                    Cause(
                        f"{path}.x-kubernetes-validations[{i}].{key}",
                        f"Invalid value: {text!r}: compilation failed: {err}",
                    )
                )
    for name, sub in (schema.get("properties") or {}).items():
        causes += rule_compile_causes(sub, f"{path}.properties[{name}]")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            causes += rule_compile_causes(schema[key], f"{path}.{key}")
    return causes
