"""`champion sandbox ...`: the local emulation (API server, Prometheus, model servers, load)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="A local emulation of a cluster for demos, e2e tests and trying Champion out.",
    no_args_is_help=True,
)


@app.command()
def apiserver(
    kubeconfig: Annotated[
        Path, typer.Option(help="Where to write the kubeconfig once the server serves.")
    ],
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 = any free port).")] = 0,
    crds: Annotated[
        list[Path] | None, typer.Option("--crd", help="CRD files to register at start.")
    ] = None,
) -> None:
    """Run the emulated Kubernetes API server in the foreground until stopped (SIGINT/SIGTERM)."""
    from champion.sandbox.apiserver.standalone import serve_forever

    asyncio.run(serve_forever(kubeconfig, port, crds=list(crds or [])))
