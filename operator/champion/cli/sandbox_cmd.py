"""`champion sandbox ...`: a real control plane on 127.0.0.1 with a simulated data plane."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="A local sandbox (real control plane, simulated GPUs and model servers) for demos, e2e tests and trying Champion out.",
    no_args_is_help=True,
)


@app.command()
def up(
    dir: Annotated[
        Path, typer.Option("--dir", help="Work directory: kubeconfig, env, logs, PIDs.")
    ],
    rps: Annotated[float, typer.Option(help="Simulated requests per second per HTTPRoute.")] = 20.0,
    gpu_nodes: Annotated[int, typer.Option(help="Simulated GPU nodes (8 x H100 each).")] = 2,
) -> None:
    """Start the sandbox in the background and return once everything is ready."""
    from champion.sandbox.lifecycle import up as start

    typer.echo(
        "Starting a real Kubernetes control plane on 127.0.0.1 (etcd, kube-apiserver, controller-manager,"
    )
    typer.echo(
        f"scheduler; KWOK plays the kubelets of {gpu_nodes} GPU nodes), real Prometheus, Champion installed"
    )
    typer.echo(
        f"with helm; simulated vLLM servers, real KServe ModelServers and {rps:g} rps of simulated users."
    )
    try:
        info = start(dir, rps, gpu_nodes)
    except (RuntimeError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"kube-apiserver {info['version']} at {info['apiserver']}  Prometheus {info['prometheus']}"
    )
    env = dir.resolve() / "env"
    typer.echo(f"Use it:  source {env} && kubectl get nodes")
    typer.echo(
        f"The operator, as the chart's ServiceAccount:  champion run --kubeconfig {info['operator_kubeconfig']}"
    )


@app.command()
def down(
    dir: Annotated[Path, typer.Option("--dir", help="The work directory given to `up`.")],
) -> None:
    """Stop everything the sandbox started (by PID). Safe to run twice."""
    from champion.sandbox.lifecycle import down as stop

    typer.echo("sandbox stopped" if stop(dir) else "no sandbox was running")
