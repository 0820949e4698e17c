"""`kubectl champion lineage MODELVERSION`: what exactly is serving, as one tree."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.tree import Tree

from champion.adapters.kube import KubeApi, connect, resource_for

MV = resource_for("champion.dev/v1alpha1", "ModelVersion")
CM = resource_for("v1", "ConfigMap")


async def _tree(api: KubeApi, name: str, namespace: str, seen: set[str]) -> Tree:
    mv = await api.get(MV, name, namespace)
    if mv is None:
        return Tree(f"[red]ModelVersion {name} not found in {namespace}[/red]")
    spec: dict[str, Any] = mv.get("spec") or {}
    status: dict[str, Any] = mv.get("status") or {}
    model = spec.get("model", {})
    root = Tree(
        f"[bold]{name}[/bold]  stage={status.get('stage', '-')}  fingerprint={status.get('fingerprint', '-')}"
    )
    root.add(
        f"artifact {model.get('uri')} ({model.get('format')}) digest={model.get('digest') or '[yellow]unpinned[/yellow]'}"
    )
    serving = spec.get("serving", {})
    root.add(
        f"runtime {serving.get('backend')} image={serving.get('image') or serving.get('runtime')} args={' '.join(serving.get('args', []))}"
    )
    policy = spec.get("policy", {})
    prompt_ref = policy.get("systemPrompt")
    if prompt_ref:
        cm = await api.get(CM, prompt_ref["name"], namespace)
        text = ((cm or {}).get("data") or {}).get(prompt_ref["key"])
        digest = (
            "sha256:" + hashlib.sha256(text.encode()).hexdigest()
            if text is not None
            else "[red]missing[/red]"
        )
        root.add(f"system prompt {prompt_ref['name']}/{prompt_ref['key']} {digest}")
    if policy.get("guardrails"):
        root.add(f"guardrails {', '.join(policy['guardrails'])}")
    lineage = spec.get("lineage", {})
    if lineage.get("datasets"):
        data = root.add("datasets")
        for d in lineage["datasets"]:
            data.add(f"{d['name']} {d['uri']} {d.get('digest') or '[yellow]no digest[/yellow]'}")
    for t in lineage.get("transformations", []):
        root.add(f"transformation {t['type']}: {t.get('description', '')}")
    if lineage.get("trainingRun"):
        root.add(
            f"training run {lineage['trainingRun'].get('id')} {lineage['trainingRun'].get('url', '')}"
        )
    if lineage.get("codeRef"):
        root.add(f"code {lineage['codeRef']['repo']}@{lineage['codeRef']['commit']}")
    base = lineage.get("baseModel") or {}
    if base.get("modelVersion") and base["modelVersion"] not in seen:
        branch = root.add("base model")
        branch.add(await _tree(api, base["modelVersion"], namespace, seen | {name}))
    elif base.get("external"):
        root.add(f"base model {base['external']}")
    return root


def register(app: typer.Typer) -> None:
    @app.command()
    def lineage(
        modelversion: str,
        namespace: Annotated[str, typer.Option("--namespace", "-n")] = "default",
        kubeconfig: Annotated[str | None, typer.Option(envvar="KUBECONFIG")] = None,
    ) -> None:
        """Print a ModelVersion's lineage: artifact, runtime, prompt hash, datasets, base models."""

        async def build() -> Tree:
            api = await connect(kubeconfig)
            try:
                return await _tree(api, modelversion, namespace, set())
            finally:
                await api.close()

        Console().print(asyncio.run(build()))
