"""EvalSuite: offline evaluation cases, how to ask the model, how to score, what passes."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, JsonValue

from champion.api.v1alpha1.base import ApiModel
from champion.api.v1alpha1.common import SHA256_DIGEST, Condition, ConfigMapKeyRef, SecretKeyRef


class Protocol(StrEnum):
    OPENAI_CHAT = "openai-chat"
    OPENAI_COMPLETIONS = "openai-completions"
    KSERVE_V1 = "kserve-v1"
    KSERVE_V2 = "kserve-v2"


class EvalCase(ApiModel):
    id: Annotated[str, Field(min_length=1, max_length=253)]
    input: dict[str, Any] = Field(
        description="Chat messages ({messages: [...]}), a prompt ({prompt: ...}) or a KServe payload."
    )
    reference: JsonValue | None = None
    tags: list[Annotated[str, Field(max_length=63)]] = Field(default_factory=list, max_length=16)


class UrlSource(ApiModel):
    url: Annotated[str, Field(pattern=r"^https?://.+", max_length=2048)]
    sha256: Annotated[
        str,
        Field(pattern=SHA256_DIGEST, description="Pins the file: a changed file fails the suite."),
    ]


class Cases(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "(has(self.inline) ? 1 : 0) + (has(self.configMap) ? 1 : 0) + (has(self.url) ? 1 : 0) == 1",
                    "message": "give exactly one case source: inline, configMap or url",
                }
            ]
        }
    )
    inline: list[EvalCase] | None = Field(
        default=None,
        max_length=10000,
        description="The cases, each with its own id (results are paired with the champion's by id).",
        json_schema_extra={
            # Unique ids: the API server checks a map list's keys itself, in linear time (a
            # CEL rule comparing every pair would exceed the cost budget at 10,000 cases).
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["id"],
            "x-kubernetes-validations": [
                {
                    "rule": "size(self) > 0",
                    "message": "list at least one case (an empty suite fails every challenger "
                    "with score 0), or take the cases from configMap or url",
                }
            ],
        },
    )
    config_map: ConfigMapKeyRef | None = Field(
        default=None, description="A ConfigMap key holding JSONL cases."
    )
    url: UrlSource | None = None


class ScorerType(StrEnum):
    EXACT = "exact"
    CONTAINS = "contains"
    REGEX = "regex"
    JSON_SCHEMA = "json_schema"
    NUMERIC = "numeric"
    SIMILARITY = "similarity"
    LLM_JUDGE = "llm_judge"


class Scorer(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.type != 'llm_judge' || (has(self.endpoint) && has(self.apiKeySecret))",
                    "message": "an llm_judge scorer needs endpoint and apiKeySecret",
                },
                {
                    "rule": "self.type != 'regex' || has(self.pattern)",
                    "message": "a regex scorer needs pattern",
                },
            ]
        }
    )
    type: ScorerType
    weight: Annotated[float, Field(gt=0, le=100)] = 1.0
    pattern: Annotated[str | None, Field(default=None, max_length=4096)] = None
    tolerance: Annotated[float, Field(ge=0)] = 0.0
    threshold: Annotated[
        float, Field(ge=0, le=1, description="Similarity needed to pass (similarity scorer).")
    ] = 0.8
    json_schema: dict[str, Any] | None = None
    rubric: Annotated[str | None, Field(default=None, max_length=16384)] = None
    endpoint: Annotated[
        str | None,
        Field(
            default=None,
            pattern=r"^https?://.+",
            description="llm_judge: base URL of an OpenAI-compatible server (…/v1/chat/completions is appended).",
        ),
    ] = None
    judge_model: Annotated[
        str,
        Field(
            min_length=1,
            max_length=253,
            description="llm_judge: the model name sent to the endpoint.",
        ),
    ] = "default"
    api_key_secret: Annotated[
        SecretKeyRef | None,
        Field(
            default=None,
            description="llm_judge: the Secret key holding the endpoint's API key (sent as a Bearer token, never logged).",
        ),
    ] = None


class Thresholds(ApiModel):
    min_score: Annotated[float, Field(ge=0, le=1)] = 0.8
    min_slice_score: Annotated[float | None, Field(default=None, ge=0, le=1)] = None
    max_regression_vs_champion: Annotated[
        float | None,
        Field(
            default=None,
            ge=0,
            le=1,
            description="Fail when worse than the champion by more than this (paired test).",
        ),
    ] = None


class EvalSuiteSpec(ApiModel):
    cases: Cases
    protocol: Protocol = Protocol.OPENAI_CHAT
    scorers: list[Scorer] = Field(min_length=1, max_length=16)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    concurrency: Annotated[int, Field(ge=1, le=256)] = 8
    timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 30.0
    retries: Annotated[int, Field(ge=0, le=10)] = 1
    sample: Annotated[
        int | None, Field(default=None, ge=1, description="Run a random sample of this many cases.")
    ] = None
    schedule: Annotated[
        str | None,
        Field(
            default=None,
            pattern=r"^(\S+\s+){4}\S+$",
            description="Cron: also run against the champion on this schedule.",
        ),
    ] = None


class ScheduleStatus(ApiModel):
    """Scheduled runs against the champion (spec.schedule)."""

    last_schedule_time: str | None = Field(
        default=None, description="The cron slot of the latest run started (or skipped)."
    )
    next_schedule_time: str | None = None
    last_job: str | None = Field(
        default=None, description="The Job (and result ConfigMap) of the latest run."
    )
    recorded_job: str | None = Field(
        default=None, description="The latest run whose result is in this status."
    )
    rollout: str | None = Field(default=None, description="Whose champion the runs evaluate.")
    missed: int = Field(
        default=0, ge=0, description="Slots skipped (operator down, or a run still going)."
    )


class EvalSuiteStatus(ApiModel):
    observed_generation: int | None = None
    last_run_at: str | None = None
    model_version: str | None = None
    score: float | None = None
    passed: bool | None = None
    cases: int | None = None
    failing_cases: list[str] = Field(default_factory=list, max_length=50)
    schedule: ScheduleStatus | None = None
    conditions: list[Condition] = Field(default_factory=list)
