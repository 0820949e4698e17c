"""Server-side printing: the `Table` kubectl asks for (`Accept: application/json;as=Table;
v=v1;g=meta.k8s.io`), from a CRD's additionalPrinterColumns or the built-in printers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from tests.emulator.apiserver.printers import BUILTIN_COLUMNS, Column, age
from tests.emulator.apiserver.types import ResourceType

_FILTER = re.compile(
    r"^\[\?\(@\.([A-Za-z0-9_.-]+)\s*(==|!=)\s*(?:\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_.-]+))\)\]$"
)


def _literal_matches(actual: Any, quoted: str | None, bare: str | None) -> bool:
    if quoted is not None:
        return isinstance(actual, str) and actual == quoted
    if bare in ("true", "false"):
        return actual is (bare == "true")
    try:
        return actual == json.loads(bare or "")
    except ValueError:
        return str(actual) == bare


def jsonpath_all(obj: Any, path: str) -> list[Any]:
    """Every match of the JSONPath subset printer columns use: `.a.b`, `.a[0]`, `.a[*]`,
    `.a[?(@.type=="Ready")]` (also `!=`, single quotes, bare true/false/numbers)."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    tokens = re.findall(r"\.([A-Za-z0-9_-]+)|(\[[^\]]*\])", path)
    values: list[Any] = [obj]
    for name, bracket in tokens:
        nxt: list[Any] = []
        for v in values:
            if name:
                if isinstance(v, dict) and name in v:
                    nxt.append(v[name])
            elif m := _FILTER.match(bracket):
                key, op = m.group(1), m.group(2)
                quoted = m.group(3) if m.group(3) is not None else m.group(4)
                if isinstance(v, list):
                    for item in v:
                        found = jsonpath_all(item, "." + key)
                        hit = bool(found) and _literal_matches(found[0], quoted, m.group(5))
                        if hit == (op == "=="):
                            nxt.append(item)
            elif bracket.strip("[]").lstrip("-").isdigit() and isinstance(v, list):
                idx = int(bracket.strip("[]"))
                if -len(v) <= idx < len(v):
                    nxt.append(v[idx])
            elif bracket == "[*]":
                nxt.extend(v if isinstance(v, list) else v.values() if isinstance(v, dict) else [])
        values = nxt
    return values


def jsonpath(obj: Any, path: str) -> Any:
    """The first match, as the CRD table convertor takes it; None when nothing matches."""
    found = jsonpath_all(obj, path)
    return found[0] if found else None


def _cell(column_type: str, value: Any) -> Any:
    """cellForJSONValue: a typed cell, or None (kubectl prints <none>)."""
    if value is None:
        return None
    if column_type == "date":
        return age(value)
    if column_type == "integer":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if column_type == "number":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if column_type == "boolean":
        return value if isinstance(value, bool) else None
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def columns_for(rt: ResourceType) -> list[Column]:
    if rt.custom:
        specs = rt.printer_columns or [
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
        ]
        return [
            Column(
                c["name"],
                c.get("type", "string"),
                _column_cell(c["jsonPath"], c.get("type", "string")),
                int(c.get("priority", 0)),
                c.get("description", ""),
                c.get("format", ""),
            )
            for c in specs
        ]
    return BUILTIN_COLUMNS.get((rt.group, rt.plural)) or [
        Column("Age", "date", lambda o: age(o["metadata"].get("creationTimestamp")))
    ]


def _column_cell(path: str, column_type: str) -> Callable[[dict[str, Any]], Any]:
    return lambda obj: _cell(column_type, jsonpath(obj, path))


def _row_object(obj: dict[str, Any], include: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def table(
    rt: ResourceType,
    items: list[dict[str, Any]],
    resource_version: str,
    include_object: str = "Metadata",
    continue_token: str | None = None,
) -> dict[str, Any]:
    columns = columns_for(rt)
    # Events print their name last, at priority 1; everything else starts with it.
    name_first = not any(c.name == "Name" for c in columns)
    definitions = [
        *(
            [
                {
                    "name": "Name",
                    "type": "string",
                    "format": "name",
                    "description": "Name must be unique within a namespace.",
                    "priority": 0,
                }
            ]
            if name_first
            else []
        ),
        *(
            {
                "name": c.name,
                "type": c.type,
                "format": c.format,
                "description": c.description,
                "priority": c.priority,
            }
            for c in columns
        ),
    ]
    rows = []
    for obj in items:
        cells = [
            *([obj["metadata"]["name"]] if name_first else []),
            *(c.cell(obj) for c in columns),
        ]
        row: dict[str, Any] = {"cells": cells}
        if (shown := _row_object(obj, include_object)) is not None:
            row["object"] = shown
        rows.append(row)
    meta: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        meta["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": definitions,
        "rows": rows,
    }
