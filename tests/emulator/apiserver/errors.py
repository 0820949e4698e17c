"""API errors in the Kubernetes `Status` shape, with the messages a real API server writes."""

from __future__ import annotations

from typing import Any, NamedTuple


class Cause(NamedTuple):
    """One field error: `field` path as the server writes it, the message after the path."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"
    transition: bool = False  # from a CEL transition rule: never ratcheted


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


def _gr(group: str, plural: str) -> str:
    return f"{plural}.{group}" if group else plural


def _details(group: str, plural: str, name: str) -> dict[str, Any]:
    # As in apimachinery: `kind` carries the resource (plural) name here; the core group's
    # empty name is omitted (omitempty).
    return {"name": name, **({"group": group} if group else {}), "kind": plural}


def not_found(group: str, plural: str, name: str) -> ApiStatusError:
    return ApiStatusError(
        404, "NotFound", f'{_gr(group, plural)} "{name}" not found', _details(group, plural, name)
    )


def already_exists(group: str, plural: str, name: str) -> ApiStatusError:
    return ApiStatusError(
        409,
        "AlreadyExists",
        f'{_gr(group, plural)} "{name}" already exists',
        _details(group, plural, name),
    )


def conflict(group: str, plural: str, name: str, why: str | None = None) -> ApiStatusError:
    why = why or (
        "the object has been modified; please apply your changes to the latest version and try again"
    )
    return ApiStatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_gr(group, plural)} "{name}": {why}',
        _details(group, plural, name),
    )


def forbidden(group: str, plural: str, name: str, why: str) -> ApiStatusError:
    return ApiStatusError(
        403,
        "Forbidden",
        f'{_gr(group, plural)} "{name}" is forbidden: {why}',
        _details(group, plural, name),
    )


def invalid(kind: str, group: str, name: str, causes: list[Cause]) -> ApiStatusError:
    """422 Invalid, worded as apimachinery's NewInvalid and field.ErrorList.ToAggregate."""
    causes = [c if isinstance(c, Cause) else Cause(*c) for c in causes]
    qualified = f"{kind}.{group}" if group else kind
    parts = [f"{c.field}: {c.message}" for c in causes]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return ApiStatusError(
        422,
        "Invalid",
        f'{qualified} "{name}" is invalid: {joined}',
        {
            "name": name,
            **({"group": group} if group else {}),
            "kind": kind,
            "causes": [
                {"reason": c.reason, "message": c.message, "field": c.field} for c in causes
            ],
        },
    )


def bad_request(message: str) -> ApiStatusError:
    return ApiStatusError(400, "BadRequest", message)


def expired(message: str) -> ApiStatusError:
    return ApiStatusError(410, "Expired", message)


def method_not_allowed(message: str) -> ApiStatusError:
    return ApiStatusError(405, "MethodNotAllowed", message)


def unsupported_media_type(message: str) -> ApiStatusError:
    return ApiStatusError(415, "UnsupportedMediaType", message)


def internal(message: str) -> ApiStatusError:
    return ApiStatusError(500, "InternalError", message)
