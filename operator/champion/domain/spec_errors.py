"""Pure: turn a pydantic ValidationError into messages that name the field and the fix."""

from __future__ import annotations

from pydantic import ValidationError


def field_path(loc: tuple[int | str, ...], root: str = "spec") -> str:
    path = root
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


SHOWN_VALUE = 80
"""A refused value is quoted up to this long: the message goes into a condition, whose
message the API server caps at 32768 characters (a 70,000-character value made the
status write itself fail)."""


def _clip(text: str) -> str:
    return text if len(text) <= SHOWN_VALUE else text[: SHOWN_VALUE - 1] + "…"


def describe(error: ValidationError, root: str = "spec") -> str:
    """One line per problem: `spec.serving.replicas: Input should be less than or equal to 100`."""
    lines = []
    for err in error.errors():
        value = err.get("input")
        shown = (
            f" (got {_clip(repr(value))})"
            if value is not None and not isinstance(value, dict | list)
            else ""
        )
        lines.append(f"{field_path(tuple(err['loc']), root)}: {err['msg']}{shown}")
    return "; ".join(lines)
