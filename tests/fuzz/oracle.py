"""The oracle's pure half: what the operator's own validators make of a fuzzed document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from champion.api.v1alpha1.evalsuite import EvalSuiteSpec
from champion.api.v1alpha1.gpupool import GPUPoolSpec
from champion.api.v1alpha1.modelversion import ModelVersionSpec
from champion.api.v1alpha1.rollout import RolloutSpec
from champion.domain.evals.validity import case_problems, scorer_problems
from champion.domain.fingerprint import fingerprint, policy_hash
from champion.domain.placement import node_in_pool
from champion.reconcile.spec_validity import parse_spec

SPECS: dict[str, type[BaseModel]] = {
    "ModelVersion": ModelVersionSpec,
    "Rollout": RolloutSpec,
    "GPUPool": GPUPoolSpec,
    "EvalSuite": EvalSuiteSpec,
}

NODE = {"metadata": {"name": "n", "labels": {"nvidia.com/gpu.product": "H100"}}}


def validate(kind: str, body: dict[str, Any]) -> str | None:
    """None for a valid spec, else the message the operator would put in its condition.

    Runs the same pure functions the reconcilers run after parsing, so a crash in any of
    them on a spec that parsed is found here, cheaply, rather than in a running operator."""
    spec, error = parse_spec(SPECS[kind], body)
    if spec is None:
        assert error, "parse_spec returned neither a spec nor a message"
        return error
    if isinstance(spec, ModelVersionSpec):
        fingerprint(spec, "a prompt")
        policy_hash(spec, None)
    elif isinstance(spec, GPUPoolSpec):
        node_in_pool(NODE, spec)
    elif isinstance(spec, EvalSuiteSpec):
        problems = scorer_problems(spec.scorers)
        if spec.cases.inline is not None:
            problems += case_problems(spec.cases.inline, "spec.cases.inline")
        if problems:
            return "; ".join(message for _, message in problems)
    return None


def names_a_field(message: str, paths: tuple[str, ...]) -> bool:
    """True when `message` names one of the mutated `paths`, or a parent or child of one
    (a required field removed is reported at its parent's rule, a wrong-typed object at the
    first of its fields that no longer fits)."""
    for path in paths:
        parts = path.split(".")
        # spec.canary.steps[0].weight -> also spec.canary.steps, spec.canary (parents)
        for n in range(len(parts), 1 if len(parts) > 1 else 0, -1):
            prefix = ".".join(parts[:n])
            if prefix in message or prefix.split("[")[0] in message:
                return True
    return not paths
