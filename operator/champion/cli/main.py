"""`champion`: the operator, its CRDs, the sandbox, evals and the demo."""

from __future__ import annotations

import typer

from champion import __version__

app = typer.Typer(
    name="champion",
    help="Champion: model versions, GPU placement, eval gates and judged rollouts on Kubernetes.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Keeps the app a command group even with a single command."""


@app.command()
def version() -> None:
    """Print Champion's version."""
    typer.echo(__version__)


def _register_subcommands() -> None:
    # Sub-apps live in their own modules so each command stays small; they are
    # imported lazily where they pull heavy dependencies.
    from champion.cli import commands

    commands.register(app)


_register_subcommands()
