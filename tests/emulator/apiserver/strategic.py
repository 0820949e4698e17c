"""Strategic merge patch for built-in kinds, from a table of the patch strategies Kubernetes'
Go types declare (merge keys) instead of the types themselves.

Lists with a merge key (containers by name, env by name, ports by containerPort or port,
conditions by type, ownerReferences by uid...) merge element by element; `finalizers` merge
as a set; every other list is replaced. Directives: `$patch: replace|delete|merge`,
`$retainKeys`, `$deleteFromPrimitiveList/<field>`, `$setElementOrder/<field>` (order only).
"""

from __future__ import annotations

import copy
from typing import Any

MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "volumes": "name",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
    "conditions": "type",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "taints": "key",
    "addresses": "type",
}
SET_LISTS = frozenset({"finalizers"})
_CONTAINER_LISTS = frozenset({"containers", "initContainers", "ephemeralContainers"})


def _merge_key(path: tuple[str, ...], name: str) -> str | None:
    if name == "ports":
        return "containerPort" if any(p in _CONTAINER_LISTS for p in path) else "port"
    return MERGE_KEYS.get(name)


def _merge_list(
    current: list[Any], patch: list[Any], key: str | None, name: str, path: tuple[str, ...]
) -> list[Any]:
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [p for p in patch if not (isinstance(p, dict) and p.get("$patch") == "replace")]
    if name in SET_LISTS:
        return [*current, *(p for p in patch if p not in current)]
    if key is None:
        return copy.deepcopy(patch)
    result = copy.deepcopy(current)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            result.append(copy.deepcopy(item))
            continue
        index = next(
            (i for i, c in enumerate(result) if isinstance(c, dict) and c.get(key) == item[key]),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(merge({}, item, (*path, name)))
        else:
            result[index] = merge(result[index], item, (*path, name))
    return result


def merge(current: Any, patch: Any, path: tuple[str, ...] = ()) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(current) if isinstance(current, dict) else {}
    for name, value in patch.items():
        if name.startswith("$deleteFromPrimitiveList/"):
            field = name.split("/", 1)[1]
            result[field] = [v for v in result.get(field) or [] if v not in (value or [])]
        elif name.startswith("$"):
            continue  # $setElementOrder, $retainKeys (below), $patch: merge
        elif value is None or (isinstance(value, dict) and value.get("$patch") == "delete"):
            result.pop(name, None)
        elif isinstance(value, list) and isinstance(result.get(name), list):
            result[name] = _merge_list(result[name], value, _merge_key(path, name), name, path)
        elif isinstance(value, list):
            result[name] = _merge_list([], value, _merge_key(path, name), name, path)
        else:
            result[name] = merge(result.get(name), value, (*path, name))
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result
