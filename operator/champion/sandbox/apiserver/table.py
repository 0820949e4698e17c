"""Server-side printing: the `Table` kubectl asks for, with a CRD's additionalPrinterColumns."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from champion.sandbox.apiserver.types import ResourceType

_FILTER = re.compile(r"^\[\?\(@\.([A-Za-z0-9_.]+)\s*==\s*[\"']([^\"']*)[\"']\)\]$")


def jsonpath(obj: Any, path: str) -> Any:
    """The JSONPath subset printer columns use: `.a.b`, `[0]`, `[?(@.type=="Ready")]`."""
    tokens = re.findall(r"\.([A-Za-z0-9_-]+)|(\[[^\]]*\])", path)
    values: list[Any] = [obj]
    for name, bracket in tokens:
        nxt: list[Any] = []
        for v in values:
            if name:
                if isinstance(v, dict) and name in v:
                    nxt.append(v[name])
            elif m := _FILTER.match(bracket):
                key, want = m.group(1), m.group(2)
                if isinstance(v, list):
                    nxt.extend(
                        i for i in v if isinstance(i, dict) and str(jsonpath(i, "." + key)) == want
                    )
            elif bracket.strip("[]").isdigit() and isinstance(v, list):
                idx = int(bracket.strip("[]"))
                if idx < len(v):
                    nxt.append(v[idx])
            elif bracket == "[*]" and isinstance(v, list):
                nxt.extend(v)
        values = nxt
    if not values:
        return None
    return values[0] if len(values) == 1 else ",".join(str(v) for v in values)


def _age(ts: str | None) -> str:
    if not ts:
        return "<unknown>"
    then = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    seconds = int((datetime.now(UTC) - then).total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def table(rt: ResourceType, items: list[dict[str, Any]], resource_version: str) -> dict[str, Any]:
    columns = [
        {"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}
    ]
    specs = rt.printer_columns or [
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    ]
    for c in specs:
        columns.append(
            {
                "name": c["name"],
                "type": c.get("type", "string"),
                "format": "",
                "description": c.get("description", ""),
                "priority": c.get("priority", 0),
            }
        )
    rows = []
    for obj in items:
        cells: list[Any] = [obj["metadata"]["name"]]
        for c in specs:
            value = jsonpath(obj, c["jsonPath"])
            if c.get("type") == "date":
                value = _age(value)
            cells.append(value)
        rows.append(
            {
                "cells": cells,
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj["metadata"],
                },
            }
        )
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns,
        "rows": rows,
    }
