"""`kubectl champion lineage MODELVERSION`: what exactly is serving, as one tree."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from champion.adapters.kube import connect
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
        namespace: Annotated[str, typer.Option("--namespace", "-n")] = "default",
        kubeconfig: Annotated[str | None, typer.Option(envvar="KUBECONFIG")] = None,
    ) -> None:
        """Print a ModelVersion's lineage: artifact, runtime, policy and prompt hashes, datasets,
        transformations, and base models followed through their ModelVersions."""

        async def build() -> TreeNode:
            api = await connect(kubeconfig)
            try:
                return await load_tree(api, modelversion, namespace)
            finally:
                await api.close()

        tree = asyncio.run(build())
        console = Console()
        if not console.is_terminal:
            # Piped or captured: never crop a hash to a default 80 columns.
            console = Console(width=4096)
        console.print(to_rich(tree))
        if tree.style == "error":
            raise typer.Exit(1)
