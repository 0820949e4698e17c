"""`kubectl-champion`: the kubectl plugin (`kubectl champion ...`)."""

from __future__ import annotations

import importlib

import typer

from champion import __version__

app = typer.Typer(
    name="kubectl-champion",
    help="Inspect and steer Champion rollouts and model versions from kubectl.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Keeps the app a command group even with a single command."""


@app.command()
def version() -> None:
    """Print the plugin's version."""
    typer.echo(__version__)


# Plugin commands defined in their own modules (lineage, rollout control...).
for _module in ("champion.cli.plugin_lineage", "champion.cli.plugin_rollout"):
    try:
        importlib.import_module(_module).register(app)
    except ModuleNotFoundError as _exc:
        if _exc.name != _module:
            raise
