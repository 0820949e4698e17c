"""Spec validation shared by every kind: a Valid condition that names the broken field."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from champion.api.v1alpha1 import reasons
from champion.api.v1alpha1.common import Condition, ConditionType
from champion.domain.conditions import set_condition
from champion.domain.spec_errors import describe

M = TypeVar("M", bound=BaseModel)


def parse_spec(model: type[M], body: dict[str, Any]) -> tuple[M | None, str | None]:
    """The typed spec, or None and a message naming every broken field."""
    try:
        return model.model_validate(body.get("spec") or {}), None
    except ValidationError as exc:
        return None, describe(exc)


def validity_conditions(
    conditions: list[Condition], error: str | None, now: datetime, generation: int | None
) -> list[Condition]:
    if error is None:
        return set_condition(
            conditions, ConditionType.VALID, True, reasons.VALID, "spec is valid", now, generation
        )
    return set_condition(
        conditions,
        ConditionType.VALID,
        False,
        reasons.INVALID_SPEC,
        f"fix the spec: {error}",
        now,
        generation,
    )
