"""Hypothesis strategies: mostly-valid Champion documents with one or two fields broken.

Each example is a `Fuzzed`: a document that starts from a valid object of its kind and has
one or two of its fields mutated (wrong type, out of range, missing, emptied, huge, unknown,
a bad name or quantity, a reference to nothing), and the paths it mutated, so an oracle can
ask whether a refusal named the field that was broken.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

GROUP_VERSION = "champion.dev/v1alpha1"
DIGEST = "sha256:" + "a" * 64
MISSING_REF = "does-not-exist"

Path = tuple[str | int, ...]


def _meta(name: str, namespace: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def base_docs(namespace: str) -> dict[str, dict[str, Any]]:
    """One valid document per kind, exercising most of each spec's fields."""
    return {
        "ModelVersion": {
            "apiVersion": GROUP_VERSION,
            "kind": "ModelVersion",
            "metadata": _meta("fz-mv", namespace),
            "spec": {
                "model": {"uri": "s3://bucket/model", "format": "vllm", "digest": DIGEST},
                "lineage": {
                    "datasets": [{"name": "d", "uri": "s3://data/d", "digest": DIGEST}],
                    "trainingRun": {"id": "run-1", "url": "https://ml/run-1"},
                    "codeRef": {"repo": "https://git/r", "commit": "abcdef1"},
                    "baseModel": {"external": "hf://org/base"},
                    "transformations": [{"type": "lora", "parameters": {"r": "8"}}],
                },
                "policy": {
                    "systemPrompt": {"name": "prompt", "key": "prompt.txt"},
                    "guardrails": ["pii"],
                    "regions": ["eu"],
                    "dataClassification": "internal",
                },
                "serving": {
                    "backend": "deployment",
                    "image": "vllm/vllm-openai:v0.6.0",
                    "args": ["--max-model-len", "4096"],
                    "env": [{"name": "HF_HOME", "value": "/cache"}],
                    "port": 8000,
                    "gpusPerReplica": 1,
                    "replicas": 2,
                    "gpuPool": "fz-pool",
                    "cpu": "500m",
                    "memory": "16Gi",
                },
                "owner": {"team": "ml", "contact": "ml@example.com"},
            },
        },
        "Rollout": {
            "apiVersion": GROUP_VERSION,
            "kind": "Rollout",
            "metadata": _meta("fz-ro", namespace),
            "spec": {
                "modelVersion": "fz-mv",
                "endpoint": {
                    "parentRefs": [{"name": "gw", "sectionName": "http"}],
                    "hostnames": ["chat.example.com"],
                    "path": "/v1",
                },
                "strategy": {
                    "evalGate": {"suites": ["fz-suite"], "timeoutSeconds": 600},
                    "shadow": {"durationSeconds": 60, "mirrorPercent": 50},
                    "canary": {
                        "steps": [
                            {"weight": 10, "durationSeconds": 60},
                            {"weight": 50, "durationSeconds": 60, "pause": True},
                        ]
                    },
                    "capacityMode": "surge",
                    "scaleDownDelaySeconds": 30,
                    "allowUnpinnedArtifacts": False,
                },
                "analysis": {
                    "intervalSeconds": 10,
                    "metrics": [
                        {"name": "latency", "preset": "vllm-latency"},
                        {
                            "name": "errors",
                            "kind": "counts",
                            "eventsQuery": 'sum(err{v="{{version}}"})',
                            "totalQuery": 'sum(req{v="{{version}}"})',
                            "margin": 0.2,
                        },
                    ],
                    "alpha": 0.05,
                    "maxInconclusive": 5,
                    "onInconclusive": "pause",
                    "warmupSeconds": 60,
                },
            },
        },
        "GPUPool": {
            "apiVersion": GROUP_VERSION,
            "kind": "GPUPool",
            "metadata": _meta("fz-pool", None),
            "spec": {
                "nodeSelector": {"nvidia.com/gpu.product": "H100"},
                "tolerations": [
                    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
                ],
                "gpuResource": "nvidia.com/gpu",
                "gpuProduct": "H100",
                "costPerGPUHour": 2.5,
                "quotas": [{"namespace": "demo", "gpus": 8}],
                "utilization": {"query": "DCGM_FI_DEV_GPU_UTIL", "strandedBelowPercent": 10},
            },
        },
        "EvalSuite": {
            "apiVersion": GROUP_VERSION,
            "kind": "EvalSuite",
            "metadata": _meta("fz-suite", namespace),
            "spec": {
                "cases": {
                    "inline": [
                        {
                            "id": "c1",
                            "input": {"prompt": "hi"},
                            "reference": "hello",
                            "tags": ["t"],
                        },
                        {"id": "c2", "input": {"prompt": "2+2"}, "reference": 4},
                    ]
                },
                "protocol": "openai-completions",
                "scorers": [
                    {"type": "contains", "weight": 1},
                    {"type": "regex", "pattern": "^h"},
                    {"type": "json_schema", "jsonSchema": {"type": "string"}},
                ],
                "thresholds": {"minScore": 0.5, "maxRegressionVsChampion": 0.1},
                "concurrency": 4,
                "timeoutSeconds": 10,
                "retries": 1,
                "sample": 2,
                "schedule": "0 * * * *",
            },
        },
    }


KINDS = ("ModelVersion", "Rollout", "GPUPool", "EvalSuite")

# Mutated values, by what they break. Huge strings stay well under the API server's 3 MiB
# request limit: the point is field limits, not transport limits.
WRONG_TYPES: list[Any] = ["x", -1, 1.5, True, [], {}, [1, "a"], {"bogus": 1}, None]
NUMBERS: list[Any] = [-1, 0, 1, 101, 65536, 2**31, 2**63 - 1, 10**20, -(10**20), 0.5, 1e300]
STRINGS: list[Any] = [
    "",
    " ",
    "Bad_Name!",
    "-leading-dash",
    "UPPER",
    "a" * 254,
    "a" * 5000,
    "a" * 70000,
    "ü\u202e\x00nul",
    "5m",
    "1.5cores",
    "10GB",
    "-1Gi",
    "every hour",
    "* * *",
    "s3:/missing-slash",
    "sha256:xyz",
    "((unbalanced",
    "{{version}}",
    MISSING_REF,
]


@dataclass(frozen=True)
class Fuzzed:
    kind: str
    doc: dict[str, Any]
    paths: tuple[Path, ...]
    """The paths mutated (from the document's root), e.g. ("spec", "serving", "replicas")."""


def dotted(path: Path) -> str:
    """`spec.canary.steps[0].weight`: the API server's field path form."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _paths(node: Any, prefix: Path) -> list[Path]:
    found: list[Path] = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


def mutable_paths(doc: dict[str, Any]) -> list[Path]:
    spec = doc.get("spec")
    return [("metadata", "name")] + (_paths(spec, ("spec",)) if "spec" in doc else [])


def _get(doc: Any, path: Path) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _values_for(current: Any) -> st.SearchStrategy[Any]:
    typed: list[Any]
    if isinstance(current, bool):
        typed = ["true", 1, 0]
    elif isinstance(current, int | float):
        typed = [*NUMBERS, "5m", "10"]
    elif isinstance(current, str):
        typed = STRINGS
    elif isinstance(current, list):
        typed = [[], [None], [{}], current * 20 if current else ["x"] * 40]
    else:
        typed = [{}, {"unknownField": "x"}]
    return st.sampled_from(typed + WRONG_TYPES) | st.text(max_size=40) | st.integers()


@st.composite
def _mutate(draw: st.DrawFn, doc: dict[str, Any], path: Path) -> dict[str, Any]:
    parent, key = _get(doc, path[:-1]), path[-1]
    if path == ("metadata", "name"):
        parent[key] = draw(st.sampled_from(STRINGS) | st.text(max_size=30))
        return doc
    current = parent[key]
    action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "unknown"]))
    if action == "delete" and isinstance(parent, dict):
        del parent[key]
    elif action == "unknown" and isinstance(current, dict):
        current[draw(st.sampled_from(["bogusField", "Spec", "x-y", "replicas "]))] = draw(
            _values_for("")
        )
    else:
        parent[key] = draw(_values_for(current))
    return doc


@st.composite
def fuzzed(draw: st.DrawFn, namespace: str, kinds: tuple[str, ...] = KINDS) -> Fuzzed:
    """A document of one of `kinds` with one or two mutated fields (sometimes none)."""
    kind = draw(st.sampled_from(kinds))
    doc = copy.deepcopy(base_docs(namespace)[kind])
    doc["metadata"]["name"] = (
        draw(st.sampled_from(["fz", "fz-a", "fz.b"])) + "-" + str(draw(st.integers(0, 10**6)))
    )
    mutated: list[Path] = []
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2]))):
        candidates = [p for p in mutable_paths(doc) if not any(p[: len(m)] == m for m in mutated)]
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        draw(_mutate(doc, path))
        mutated.append(path)
    return Fuzzed(kind, doc, tuple(mutated))
