"""Pure: pydantic models -> structural CustomResourceDefinitions (dicts).

A real API server only accepts *structural* schemas: no `$ref`, no `anyOf` for
nullability, `exclusiveMinimum` as a boolean (OpenAPI v3.0), and free-form maps
marked `x-kubernetes-preserve-unknown-fields`. pydantic emits JSON Schema
2020-12, so this module rewrites it.
"""

from __future__ import annotations

import copy
from typing import Any

from champion.api.v1alpha1.kinds import KINDS, Kind

_DROP = {"title", "$defs", "examples"}


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    if isinstance(schema, list):
        return [_inline(s, defs) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        target = copy.deepcopy(defs[schema["$ref"].split("/")[-1]])
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return _inline(merged, defs)
    return {k: _inline(v, defs) for k, v in schema.items()}


def _structural(schema: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    any_of = schema.get("anyOf")
    if any_of is not None:
        non_null = [s for s in any_of if s.get("type") != "null"]
        if len(non_null) != 1:
            raise ValueError(f"unsupported union in CRD schema: {any_of}")
        inner = _structural(non_null[0])
        # A field the operator always omits when unset needs no `nullable`;
        # declaring it lets clients that send explicit nulls (Argo CD diffs) pass.
        inner["nullable"] = True
        for key, value in schema.items():
            if key not in ("anyOf", "default") and key not in _DROP:
                inner.setdefault(key, value)
        return _finish(inner, schema)
    for key, value in schema.items():
        if key in _DROP:
            continue
        if key == "properties":
            out[key] = {name: _structural(sub) for name, sub in value.items()}
        elif key == "items":
            out[key] = _structural(value)
        elif key == "additionalProperties":
            if value is True or value == {}:
                out["x-kubernetes-preserve-unknown-fields"] = True
            elif isinstance(value, dict):
                out[key] = _structural(value)
        elif key == "exclusiveMinimum" and not isinstance(value, bool):
            out["minimum"] = value
            out["exclusiveMinimum"] = True
        elif key == "exclusiveMaximum" and not isinstance(value, bool):
            out["maximum"] = value
            out["exclusiveMaximum"] = True
        else:
            out[key] = value
    return _finish(out, schema)


def _finish(out: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    if (
        "type" not in out
        and "enum" not in out
        and "x-kubernetes-preserve-unknown-fields" not in out
    ):
        # `Any` in Python: a free-form value.
        out["x-kubernetes-preserve-unknown-fields"] = True
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    if (
        out.get("type") == "object"
        and "properties" not in out
        and "additionalProperties" not in out
    ):
        out["x-kubernetes-preserve-unknown-fields"] = True
    default = out.get("default")
    # Object and list defaults would be expanded into every stored object;
    # pydantic applies them in the operator anyway. Scalars stay: they document.
    if isinstance(default, dict | list) or default is None:
        out.pop("default", None)
    return out


def openapi_schema(model: Any) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.get("$defs", {})
    return _structural(_inline(raw, defs))


# Kinds whose names become label values (champion.dev/model-version, champion.dev/rollout) on
# the children, the route's backends and Prometheus series: Kubernetes caps label values at 63.
LABEL_VALUE_NAMED = ("ModelVersion", "Rollout")


def crd_for(kind: Kind) -> dict[str, Any]:
    spec_schema = openapi_schema(kind.spec)
    status_schema = openapi_schema(kind.status)
    spec_schema["description"] = (
        kind.spec.__doc__.strip().splitlines()[0] if kind.spec.__doc__ else ""
    )
    root: dict[str, Any] = {
        "type": "object",
        "description": kind.description,
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema,
            "status": status_schema,
        },
    }
    if kind.spec_required:
        root["required"] = ["spec"]
    if kind.kind in LABEL_VALUE_NAMED:
        root["x-kubernetes-validations"] = [
            {
                "rule": "size(self.metadata.name) <= 63",
                "message": f"a {kind.kind}'s name becomes a label value on what Champion creates "
                "for it, which Kubernetes limits to 63 characters: choose a metadata.name of at "
                "most 63",
            }
        ]
    columns = [
        {
            "name": c.name,
            "type": c.type,
            "jsonPath": c.json_path,
            **({"description": c.description} if c.description else {}),
            **({"priority": c.priority} if c.priority else {}),
        }
        for c in kind.columns
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": kind.crd_name,
            "labels": {"app.kubernetes.io/part-of": "champion"},
        },
        "spec": {
            "group": kind.group,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": ["champion"],
            },
            "scope": "Namespaced" if kind.namespaced else "Cluster",
            "versions": [
                {
                    "name": kind.version,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": root},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                }
            ],
        },
    }


def all_crds() -> list[dict[str, Any]]:
    # Imported for its side effect of registering further kinds.
    from champion.api.v1alpha1 import all_kinds  # noqa: F401

    return [crd_for(k) for k in KINDS]
