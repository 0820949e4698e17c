"""Label and field selectors, with the real server's syntax."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from champion.sandbox.apiserver.errors import bad_request

Matcher = Callable[[dict[str, Any]], bool]

_SET = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


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
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def label_matcher(selector: str | None) -> Matcher:
    if not selector:
        return lambda obj: True
    checks: list[Callable[[dict[str, str]], bool]] = []
    for term in _split(selector):
        if m := _SET.match(term):
            key, op, values = (
                m.group(1),
                m.group(2),
                {v.strip() for v in m.group(3).split(",") if v.strip()},
            )
            if op == "in":
                checks.append(lambda lb, k=key, vs=values: lb.get(k) in vs)  # type: ignore[misc]
            else:
                checks.append(lambda lb, k=key, vs=values: lb.get(k) not in vs)  # type: ignore[misc]
        elif "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            checks.append(lambda lb, k=key, v=value: lb.get(k) != v)  # type: ignore[misc]
        elif "==" in term or "=" in term:
            key, value = (s.strip() for s in re.split(r"==?", term, maxsplit=1))
            checks.append(lambda lb, k=key, v=value: lb.get(k) == v)  # type: ignore[misc]
        elif term.startswith("!"):
            key = term[1:].strip()
            checks.append(lambda lb, k=key: k not in lb)  # type: ignore[misc]
        elif re.fullmatch(r"[A-Za-z0-9./_-]+", term):
            checks.append(lambda lb, k=term: k in lb)  # type: ignore[misc]
        else:
            raise bad_request(f"unable to parse requirement: {term!r}")
    return lambda obj: all(c(obj.get("metadata", {}).get("labels") or {}) for c in checks)


def _field(obj: dict[str, Any], path: str) -> str | None:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return None if cur is None else str(cur)


def field_matcher(selector: str | None) -> Matcher:
    if not selector:
        return lambda obj: True
    checks: list[Callable[[dict[str, Any]], bool]] = []
    for term in _split(selector):
        if "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            checks.append(lambda o, k=key, v=value: (_field(o, k) or "") != v)  # type: ignore[misc]
        elif "=" in term:
            key, value = (s.strip() for s in re.split(r"==?", term, maxsplit=1))
            checks.append(lambda o, k=key, v=value: (_field(o, k) or "") == v)  # type: ignore[misc]
        else:
            raise bad_request(f"invalid field selector: {term!r}")
    return lambda obj: all(c(obj) for c in checks)
