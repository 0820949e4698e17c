"""PATCH semantics by content type: JSON merge patch (RFC 7386), JSON patch (RFC 6902, a
failed `test` is 422), strategic merge patch (built-ins only; custom resources answer 415 as a
real server does), and server-side apply approximated as a merge patch."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from tests.emulator.apiserver import errors, strategic

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def accepted(custom: bool) -> list[str]:
    return [JSON_PATCH, MERGE, APPLY] if custom else [JSON_PATCH, MERGE, STRATEGIC, APPLY]


def apply_patch(
    current: dict[str, Any], patch: Any, content_type: str, custom: bool = False
) -> dict[str, Any]:
    if content_type not in accepted(custom):
        raise errors.unsupported_media_type(
            "the body of the request was in an unknown format - accepted media types include: "
            + ", ".join(accepted(custom))
        )
    if content_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise errors.bad_request(
                "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
            )
        try:
            result: dict[str, Any] = jsonpatch.apply_patch(current, patch)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise errors.ApiStatusError(422, "Invalid", str(exc)) from exc
        return result
    if not isinstance(patch, dict):
        raise errors.bad_request("the patch must be a JSON object")
    if content_type == STRATEGIC:
        merged: dict[str, Any] = strategic.merge(current, patch)
        return merged
    # Server-side apply is approximated as a merge patch: no managedFields, no conflicts,
    # fields dropped from the manifest are not removed (docs/emulated-apiserver.md).
    merged = merge_patch(current, patch)
    return merged
