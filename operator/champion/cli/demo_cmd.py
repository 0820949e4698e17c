"""`champion demo`: the README's main command."""

from __future__ import annotations

from typing import Annotated

import typer


def demo(
    rps: Annotated[int, typer.Option(help="Requests per second of simulated load.")] = 20,
    dir: Annotated[
        str | None, typer.Option("--dir", help="Work directory (default: a temp dir).")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show each verdict's evidence, not one line.")
    ] = False,
) -> None:
    """Run a whole rollout lifecycle in a local sandbox: v1 → v2 promoted → v3 rolled back."""
    from champion.sandbox.demo import run_demo

    raise typer.Exit(run_demo(rps=rps, workdir=dir, verbose=verbose))


app = demo
