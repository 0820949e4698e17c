"""`kubectl champion lineage MODELVERSION`: what exactly is serving, as one tree."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from champion.cli.plugin_common import Context, Kubeconfig, Namespace, resolve, session
from champion.domain.lineage import TreeNode
from champion.reconcile.lineage import lineage as load_tree

STYLES = {"title": "bold", "warn": "yellow", "error": "red"}


def to_rich(node: TreeNode, tree: Tree | None = None) -> Tree:
    label = escape(node.label)
    if node.style in STYLES:
        label = f"[{STYLES[node.style]}]{label}[/{STYLES[node.style]}]"
    branch = Tree(label) if tree is None else tree.add(label)
    for child in node.children:
        to_rich(child, branch)
    return branch


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
