"""`kubectl champion lineage MODELVERSION`: what exactly is serving, as one tree.

Who serves each version (its stage and the Rollouts using it) is derived from the
Rollouts' status when the command runs, as the operator derives `status.usedBy`, so the
tree agrees with the routes even between two ModelVersion reconciles.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from champion.adapters.kube import KubeApi, resource_for
from champion.cli.plugin_common import Context, Kubeconfig, Namespace, resolve, session
from champion.domain.lineage import LineageVersion, TreeNode, lineage_tree
from champion.domain.usage import Usage, derive_usage
from champion.reconcile.lineage import load_lineage

RO = resource_for("champion.dev/v1alpha1", "Rollout")

STYLES = {"title": "bold", "warn": "yellow", "error": "red"}


def to_rich(node: TreeNode, tree: Tree | None = None) -> Tree:
    label = escape(node.label)
    if node.style in STYLES:
        label = f"[{STYLES[node.style]}]{label}[/{STYLES[node.style]}]"
    branch = Tree(label) if tree is None else tree.add(label)
    for child in node.children:
        to_rich(child, branch)
    return branch


def served_by(usage: Usage) -> list[str]:
    """One line per Rollout serving the version (the tree's "served by" branch)."""
    if not usage.used_by:
        return ["served by no Rollout"]
    lines = []
    for u in usage.used_by:
        mirrored = f", {u.mirror_percent}% of requests mirrored" if u.mirror_percent else ""
        lines.append(
            f"served by Rollout {u.rollout} as {u.role}: {u.weight}% of live traffic{mirrored}"
        )
    return lines


def with_usage(
    chain: dict[str, LineageVersion], rollouts: list[dict[str, Any]]
) -> tuple[dict[str, LineageVersion], dict[str, Usage]]:
    """The loaded versions with `stage` and `usedBy` as the Rollouts have them now."""
    out: dict[str, LineageVersion] = {}
    usages: dict[str, Usage] = {}
    for name, version in chain.items():
        if version.body is None:
            out[name] = version
            continue
        status = dict(version.body.get("status") or {})
        usage = derive_usage(name, rollouts, status.get("stage"))
        usages[name] = usage
        status.update(stage=str(usage.stage), usedBy=[u.to_wire() for u in usage.used_by])
        out[name] = replace(version, body={**version.body, "status": status})
    return out, usages


async def load_tree(api: KubeApi, name: str, namespace: str) -> TreeNode:
    chain, usages = with_usage(
        await load_lineage(api, name, namespace), await api.list(RO, namespace)
    )
    tree = lineage_tree(chain, name)
    if name in usages:
        # Right under the title and the fingerprint: what this version serves, and for whom.
        at = min(1, len(tree.children))
        tree.children[at:at] = [TreeNode(line) for line in served_by(usages[name])]
    return tree


def register(app: typer.Typer) -> None:
    @app.command()
    def lineage(
        modelversion: str,
        namespace: Namespace = None,
        context: Context = None,
        kubeconfig: Kubeconfig = None,
    ) -> None:
        """Print a ModelVersion's lineage: artifact, runtime, policy and prompt hashes, datasets,
        transformations, and base models followed through their ModelVersions."""

        target = resolve(kubeconfig, context, namespace)

        async def build() -> TreeNode:
            async with session(target) as api:
                return await load_tree(api, modelversion, target.namespace)

        tree = asyncio.run(build())
        console = Console()
        if not console.is_terminal:
            # Piped or captured: never crop a hash to a default 80 columns.
            console = Console(width=4096)
        console.print(to_rich(tree))
        if tree.style == "error":
            raise typer.Exit(1)
