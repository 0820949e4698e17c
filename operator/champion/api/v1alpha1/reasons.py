"""Every condition reason and event reason the operator writes, in one place.

Reasons are CamelCase machine-readable words; messages carry the human detail
(which field, which value, what to do).
"""

from __future__ import annotations

from typing import Final

# --- generic validity --------------------------------------------------------
VALID: Final = "Valid"
INVALID_SPEC: Final = "InvalidSpec"
RECONCILE_ERROR: Final = "ReconcileError"

# --- ModelVersion ------------------------------------------------------------
POOL_NOT_FOUND: Final = "GPUPoolNotFound"
CONFIGMAP_NOT_FOUND: Final = "SystemPromptConfigMapNotFound"
CONFIGMAP_KEY_NOT_FOUND: Final = "SystemPromptKeyNotFound"
CASES_NOT_FOUND: Final = "CasesConfigMapNotFound"
BASE_MODEL_NOT_FOUND: Final = "BaseModelNotFound"
UNPINNED_ARTIFACT: Final = "UnpinnedArtifact"
DUPLICATE_FINGERPRINT: Final = "DuplicateFingerprint"
UNIQUE_FINGERPRINT: Final = "UniqueFingerprint"
SYSTEM_PROMPT_CHANGED: Final = "SystemPromptChanged"
PINNED: Final = "Pinned"
POOL_CHANGED: Final = "GPUPoolChanged"
PLACED: Final = "Placed"
FITS: Final = "Fits"
NO_GPUS: Final = "NoGPUsRequested"
DOES_NOT_FIT: Final = "InsufficientGPUs"
QUOTA_EXCEEDED: Final = "GPUQuotaExceeded"
DELETION_BLOCKED: Final = "DeletionBlocked"
"""Condition Deleting=True and a Warning event: a Rollout still uses the version being deleted."""
DELETION_RELEASED: Final = "DeletionReleased"
"""Event: no Rollout uses the version any more; its deletion goes ahead."""

# --- GPUPool -----------------------------------------------------------------
POOL_READY: Final = "PoolReady"
NO_NODES: Final = "NoMatchingNodes"
UTILIZATION_UNAVAILABLE: Final = "UtilizationUnavailable"
STALE_RESERVATION_RELEASED: Final = "StaleReservationReleased"

# --- EvalSuite schedule --------------------------------------------------------
SCHEDULED_RUN_STARTED: Final = "ScheduledRunStarted"
SCHEDULED_RUN_PASSED: Final = "ScheduledRunPassed"
SCHEDULED_RUN_FAILED: Final = "ScheduledRunFailed"
SCHEDULED_RUN_SKIPPED: Final = "ScheduledRunSkipped"
NO_CHAMPION: Final = "NoChampion"
SCHEDULE_ACTIVE: Final = "ScheduleActive"
INVALID_SCHEDULE: Final = "InvalidSchedule"

# --- Rollout -----------------------------------------------------------------
ROLLOUT_PENDING: Final = "Pending"
EVAL_GATE_RUNNING: Final = "EvalGateRunning"
EVAL_GATE_PASSED: Final = "EvalGatePassed"
EVAL_GATE_FAILED: Final = "EvalGateFailed"
SHADOW_STARTED: Final = "ShadowStarted"
CANARY_STEP: Final = "CanaryStep"
CHALLENGER_NOT_READY: Final = "ChallengerNotReady"
CHAMPION_MISSING: Final = "ChampionMissing"
SERVING_CHILD_MISSING: Final = "ServingChildMissing"
"""Degraded: a Deployment, Service or InferenceService the champion serves from does not exist."""
SERVING_CHILD_NOT_READY: Final = "ServingChildNotReady"
"""Degraded: the champion's Deployment (or InferenceService) is not at full strength."""
SERVING_VERSION_MISSING: Final = "ServingModelVersionMissing"
"""Degraded: the champion's ModelVersion is gone (its finalizer was removed by hand)."""
CAPACITY_PENDING: Final = "CapacityPending"
CAPACITY_RESERVED: Final = "CapacityReserved"
ANALYSIS_CONTINUE: Final = "AnalysisContinue"
INSUFFICIENT_EVIDENCE: Final = "InsufficientEvidence"
PROMETHEUS_UNAVAILABLE: Final = "PrometheusUnavailable"
REGRESSION_DETECTED: Final = "RegressionDetected"
SAMPLE_RATIO_MISMATCH: Final = "SampleRatioMismatch"
NO_REGRESSION: Final = "NoRegressionDetected"
MANUAL_PROMOTE: Final = "ManualPromote"
MANUAL_ABORT: Final = "ManualAbort"
MANUAL_PAUSE: Final = "ManualPause"
MANUAL_RESUME: Final = "ManualResume"
MANUAL_RETRY: Final = "ManualRetry"
PROMOTED: Final = "Promoted"
ROLLED_BACK: Final = "RolledBack"
ABORTED: Final = "Aborted"
SUPERSEDED: Final = "Superseded"
FIRST_ROLLOUT: Final = "FirstRollout"
STABLE: Final = "Stable"

# --- API failures (any kind): Degraded=True with one of these, a Warning event, backoff ------
FORBIDDEN: Final = "Forbidden"
"""The operator's ServiceAccount may not make a request it needs (RBAC): 403."""
MISSING_API: Final = "MissingAPI"
"""A kind the operator writes is not served by this cluster (its CRDs are not installed)."""
REFERENCE_NOT_FOUND: Final = "ReferenceNotFound"
"""An object the spec names does not exist."""
ROUTE_NOT_ACCEPTED: Final = "RouteNotAccepted"
"""Degraded: a Gateway reports the Rollout's HTTPRoute Accepted=False or ResolvedRefs=False,
so its weights move no traffic; the rollout holds (the message quotes the Gateway)."""
EVIDENCE_LOST: Final = "EvidenceLost"
"""Warning event: the Rollout's evidence ConfigMap lacks what its status committed to (deleted
by hand); the judge starts its analysis again."""
EVAL_SERVICE_ACCOUNT_MISSING: Final = "EvalServiceAccountMissing"
"""The ServiceAccount eval Jobs run as is not in the namespace: their pods would be refused."""

# --- EvalSuite validity: Valid=False with one of these (and a Warning event) -------------------
NO_CASES: Final = "NoCases"
"""The suite has no cases (an empty inline list, ConfigMap key or file): it could score nothing."""
DUPLICATE_CASE_IDS: Final = "DuplicateCaseIds"
"""Case ids repeat: results are paired with the champion's by id."""
INVALID_CASES: Final = "InvalidCases"
"""A line of a JSONL case file is not JSON or not a case."""
INVALID_REGEX: Final = "InvalidRegex"
"""A regex scorer's pattern does not compile (Python `re`, as the eval runner uses it)."""
INVALID_JSON_SCHEMA: Final = "InvalidJSONSchema"
"""A json_schema scorer's jsonSchema is not a valid JSON Schema."""

# --- Rollout state machine (issue 16): pauses ------------------------------------------------
STEP_PAUSE: Final = "StepPause"
"""A canary step with `pause: true` is done: Paused until champion.dev/pause=false or promote."""

# --- Rollout conditions (issue 20, section 2): what Progressing and Degraded say ----------------
WAITING_FOR_CAPACITY: Final = "WaitingForCapacity"
"""Progressing=True in CapacityPending: the challenger's GPUPool cannot fit it yet."""
WAITING_FOR_EVIDENCE: Final = "WaitingForEvidence"
"""Progressing=True: a step's time is up but the last interval had no evidence; it waits."""
AS_EXPECTED: Final = "AsExpected"
"""Degraded=False: nothing is wrong (the message says what was checked)."""
