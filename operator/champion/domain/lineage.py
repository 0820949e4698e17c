"""A ModelVersion's lineage as a plain tree (pure): what exactly is serving, and where it came from.

The loader (reconcile.lineage) fetches the version, its system prompt and its
base ModelVersions; this module turns them into labelled nodes; the CLI renders
them with rich.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from champion.api.v1alpha1.modelversion import ModelVersionSpec
from champion.domain.fingerprint import content_hash, policy_hash


@dataclass(frozen=True)
class LineageVersion:
    """One loaded ModelVersion (None when it was not found) and its system prompt's text."""

    name: str
    namespace: str
    body: dict[str, Any] | None
    prompt: str | None = None
    prompt_error: str | None = None
    """Why the prompt could not be read (missing ConfigMap or key); None when read or not set."""


@dataclass
class TreeNode:
    label: str
    style: str = ""
    """"" (plain), "title", "warn" or "error": the renderer picks colours."""
    children: list[TreeNode] = field(default_factory=list)

    def add(self, label: str, style: str = "") -> TreeNode:
        node = TreeNode(label, style)
        self.children.append(node)
        return node

    def lines(self, depth: int = 0) -> list[str]:
        """Plain-text rendering (tests, logs)."""
        out = ["  " * depth + self.label]
        for child in self.children:
            out.extend(child.lines(depth + 1))
        return out


def lineage_tree(chain: dict[str, LineageVersion], root: str) -> TreeNode:
    """The tree for `root`, base models nested under it; `chain` holds every loaded version by name."""
    return _version(chain, root, frozenset())


def _version(chain: dict[str, LineageVersion], name: str, seen: frozenset[str]) -> TreeNode:
    v = chain.get(name)
    if v is None or v.body is None:
        namespace = v.namespace if v else "?"
        return TreeNode(f"ModelVersion {name}: not found in namespace {namespace}", "error")
    status: dict[str, Any] = v.body.get("status") or {}
    node = TreeNode(f"ModelVersion {name}  stage={status.get('stage', '-')}", "title")
    node.add(f"fingerprint {status.get('fingerprint') or '- (not computed yet)'}")
    try:
        spec = ModelVersionSpec.model_validate(v.body.get("spec") or {})
    except ValidationError as exc:
        node.add(f"spec does not parse: {exc.error_count()} error(s)", "error")
        return node
    m = spec.model
    if m.digest:
        node.add(f"artifact {m.uri} ({m.format}) digest {m.digest}")
    else:
        node.add(f"artifact {m.uri} ({m.format}) unpinned: no digest", "warn")
    s = spec.serving
    runtime = f"image {s.image}" if s.image else f"runtime {s.runtime or '(KServe default)'}"
    args = f" args {' '.join(s.args)}" if s.args else ""
    node.add(f"runtime {s.backend}: {runtime}{args}")
    _policy(node, spec, v)
    lineage = spec.lineage
    if lineage.datasets:
        data = node.add("datasets")
        for d in lineage.datasets:
            if d.digest:
                data.add(f"{d.name} {d.uri} {d.digest}")
            else:
                data.add(f"{d.name} {d.uri} no digest", "warn")
    if lineage.training_run:
        url = f" {lineage.training_run.url}" if lineage.training_run.url else ""
        node.add(f"training run {lineage.training_run.id}{url}")
    if lineage.code_ref:
        node.add(f"code {lineage.code_ref.repo}@{lineage.code_ref.commit}")
    if lineage.transformations:
        steps = node.add("transformations")
        for t in lineage.transformations:
            params = ", ".join(f"{k}={val}" for k, val in sorted(t.parameters.items()))
            detail = ": ".join(p for p in (t.description, params) if p)
            steps.add(f"{t.type}{': ' + detail if detail else ''}")
    base = lineage.base_model
    if base is not None and base.model_version:
        branch = node.add("base model")
        if base.model_version in seen | {name}:
            branch.add(f"ModelVersion {base.model_version}: cycle, already shown above", "error")
        else:
            branch.children.append(_version(chain, base.model_version, seen | {name}))
    elif base is not None and base.external:
        node.add(f"base model {base.external} (external)")
    if spec.owner:
        contact = f" ({spec.owner.contact})" if spec.owner.contact else ""
        node.add(f"owner {spec.owner.team}{contact}")
    return node


def _policy(node: TreeNode, spec: ModelVersionSpec, v: LineageVersion) -> None:
    p = spec.policy
    readable = v.prompt_error is None
    policy = node.add(
        f"policy {policy_hash(spec, v.prompt)}" if readable else "policy (hash unknown)",
        "" if readable else "error",
    )
    if p.system_prompt is not None:
        ref = f"{p.system_prompt.name}/{p.system_prompt.key}"
        if v.prompt is not None:
            policy.add(f"system prompt {ref} {content_hash(v.prompt)}")
        else:
            policy.add(f"system prompt {ref}: {v.prompt_error}", "error")
    if p.guardrails:
        policy.add(f"guardrails {', '.join(p.guardrails)}")
    if p.regions:
        policy.add(f"regions {', '.join(p.regions)}")
    policy.add(f"data classification {p.data_classification}")
