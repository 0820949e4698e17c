"""Label and field selectors, with the real server's syntax and its 400s."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any

from tests.emulator.apiserver.errors import bad_request

Matcher = Callable[[dict[str, Any]], bool]

_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_SET = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s*\(([^)]*)\)\s*$")
_EXISTS = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")
_EQ = re.compile(rf"^\s*({_KEY})\s*(==|=|!=)\s*([-A-Za-z0-9_.]*)\s*$")
ALWAYS_SELECTABLE = ("metadata.name", "metadata.namespace")


def _split(selector: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def label_matcher(selector: str | None) -> Matcher:
    """`=`, `==`, `!=`, `in`, `notin`, `key` (exists), `!key`; `!=` and `notin` match
    objects without the label, as in Kubernetes."""
    if not selector:
        return lambda obj: True
    checks: list[Callable[[dict[str, str]], bool]] = []
    for term in _split(selector):
        if m := _SET.match(term):
            key, op = m.group(1), m.group(2)
            values = {v.strip() for v in m.group(3).split(",") if v.strip()}
            if op == "in":
                checks.append(lambda lb, k=key, vs=values: lb.get(k) in vs)  # type: ignore[misc]
            else:
                checks.append(lambda lb, k=key, vs=values: lb.get(k) not in vs)  # type: ignore[misc]
        elif m := _EQ.match(term):
            key, op, value = m.groups()
            if op == "!=":
                checks.append(lambda lb, k=key, v=value: lb.get(k) != v)  # type: ignore[misc]
            else:
                checks.append(lambda lb, k=key, v=value: lb.get(k) == v)  # type: ignore[misc]
        elif m := _EXISTS.match(term):
            negate, key = m.group(1) == "!", m.group(2)
            if negate:
                checks.append(lambda lb, k=key: k not in lb)  # type: ignore[misc]
            else:
                checks.append(lambda lb, k=key: k in lb)  # type: ignore[misc]
        else:
            raise bad_request(f"unable to parse requirement: {term!r}")
    return lambda obj: all(c(obj.get("metadata", {}).get("labels") or {}) for c in checks)


def field_value(obj: dict[str, Any], path: str) -> str:
    """A field as the server's field-selector index holds it: Go-formatted, "" when absent."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def field_matcher(selector: str | None, allowed: Collection[str] | None = None) -> Matcher:
    """`=`, `==`, `!=` on the fields the resource supports (`allowed` plus metadata.name and
    metadata.namespace); any other field is a 400, as on a real server."""
    if not selector:
        return lambda obj: True
    checks: list[Callable[[dict[str, Any]], bool]] = []
    for term in _split(selector):
        m = re.match(r"^\s*([A-Za-z0-9_.-]+)\s*(==|=|!=)\s*(.*?)\s*$", term)
        if not m:
            raise bad_request(f"invalid selector: '{selector}'; can't understand '{term}'")
        key, op, value = m.groups()
        if allowed is not None and key not in (*ALWAYS_SELECTABLE, *allowed):
            raise bad_request(f"field label not supported: {key}")
        if op == "!=":
            checks.append(lambda o, k=key, v=value: field_value(o, k) != v)  # type: ignore[misc]
        else:
            checks.append(lambda o, k=key, v=value: field_value(o, k) == v)  # type: ignore[misc]
    return lambda obj: all(c(obj) for c in checks)
