"""Patch semantics: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge (approximated)."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from champion.sandbox.apiserver import errors

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue  # strategic-merge directives ($setElementOrder, $patch, $retainKeys)
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def apply_patch(current: dict[str, Any], patch: Any, content_type: str) -> dict[str, Any]:
    if content_type.startswith(JSON_PATCH):
        try:
            result: dict[str, Any] = jsonpatch.apply_patch(current, patch)
        except jsonpatch.JsonPatchTestFailed as exc:
            raise errors.ApiStatusError(
                422,
                "Invalid",
                f"the server rejected our request due to an error in our request: {exc}",
            ) from exc
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise errors.ApiStatusError(
                422,
                "Invalid",
                f"the server rejected our request due to an error in our request: {exc}",
            ) from exc
        return result
    if content_type.startswith((MERGE, STRATEGIC, APPLY)):
        # Strategic merge patch is approximated as a merge patch: lists are
        # replaced, not merged by key (documented in docs/emulated-apiserver.md).
        if not isinstance(patch, dict):
            raise errors.bad_request("a merge patch must be a JSON object")
        merged: dict[str, Any] = merge_patch(current, patch)
        return merged
    raise errors.ApiStatusError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: {MERGE}, {JSON_PATCH}, {STRATEGIC}",
    )
