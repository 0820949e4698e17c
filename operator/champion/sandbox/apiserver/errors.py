"""API errors in the Kubernetes `Status` shape, as a real API server answers them."""

from __future__ import annotations

from typing import Any


class ApiStatusError(Exception):
    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            out["details"] = self.details
        return out


def not_found(group: str, plural: str, name: str) -> ApiStatusError:
    gr = f"{plural}.{group}" if group else plural
    return ApiStatusError(
        404, "NotFound", f'{gr} "{name}" not found', {"name": name, "group": group, "kind": plural}
    )


def already_exists(group: str, plural: str, name: str) -> ApiStatusError:
    gr = f"{plural}.{group}" if group else plural
    return ApiStatusError(
        409,
        "AlreadyExists",
        f'{gr} "{name}" already exists',
        {"name": name, "group": group, "kind": plural},
    )


def conflict(group: str, plural: str, name: str) -> ApiStatusError:
    gr = f"{plural}.{group}" if group else plural
    return ApiStatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {gr} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        {"name": name, "group": group, "kind": plural},
    )


def invalid(kind: str, group: str, name: str, causes: list[tuple[str, str]]) -> ApiStatusError:
    """422 Invalid; `causes` are (field path, message) like the real server's field errors."""
    qualified = f"{kind}.{group}" if group else kind
    joined = ", ".join(f"{field}: {msg}" for field, msg in causes)
    return ApiStatusError(
        422,
        "Invalid",
        f'{qualified} "{name}" is invalid: {joined}'
        if len(causes) == 1
        else f'{qualified} "{name}" is invalid: [{joined}]',
        {
            "name": name,
            "group": group,
            "kind": kind,
            "causes": [
                {"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes
            ],
        },
    )


def bad_request(message: str) -> ApiStatusError:
    return ApiStatusError(400, "BadRequest", message)
