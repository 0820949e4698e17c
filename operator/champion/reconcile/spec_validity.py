"""Spec validation shared by every kind: a Valid condition that names the broken field."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from champion.domain.spec_errors import describe

M = TypeVar("M", bound=BaseModel)


def parse_spec(model: type[M], body: dict[str, Any]) -> tuple[M | None, str | None]:
    """The typed spec, or None and a message naming every broken field."""
    try:
        return model.model_validate(body.get("spec") or {}), None
    except ValidationError as exc:
        return None, describe(exc)
