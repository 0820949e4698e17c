"""`kubectl champion promote|abort|retry|pause|resume|status|history ROLLOUT`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from champion.adapters.kube import connect, resource_for

ROLLOUT = resource_for("champion.dev/v1alpha1", "Rollout")
Namespace = Annotated[str, typer.Option("--namespace", "-n", help="Namespace of the Rollout.")]
Kubeconfig = Annotated[str | None, typer.Option(envvar="KUBECONFIG", help="kubeconfig path.")]


async def _get(kubeconfig: str | None, name: str, namespace: str) -> dict[str, Any]:
    api = await connect(kubeconfig)
    try:
        ro = await api.get(ROLLOUT, name, namespace)
    finally:
        await api.close()
    if ro is None:
        raise typer.BadParameter(f'Rollout "{name}" not found in namespace {namespace}')
    return ro


async def _annotate(
    kubeconfig: str | None, name: str, namespace: str, key: str, value: str
) -> dict[str, Any]:
    api = await connect(kubeconfig)
    try:
        if await api.get(ROLLOUT, name, namespace) is None:
            raise typer.BadParameter(f'Rollout "{name}" not found in namespace {namespace}')
        return await api.patch(
            ROLLOUT, name, {"metadata": {"annotations": {f"champion.dev/{key}": value}}}, namespace
        )
    finally:
        await api.close()


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _print_status(ro: dict[str, Any]) -> None:
    s = ro.get("status") or {}
    w = s.get("weights") or {}
    console = Console()
    table = Table(
        title=f"Rollout {ro['metadata']['namespace']}/{ro['metadata']['name']}", show_header=False
    )
    for key, value in (
        ("phase", s.get("phase")),
        ("step", s.get("step")),
        ("champion", f"{s.get('champion')} ({w.get('champion', 0)}%)"),
        ("challenger", f"{s.get('challenger')} ({w.get('challenger', 0)}%)"),
        ("mirror", f"{s.get('mirrorPercent', 0)}%"),
        ("verdict", s.get("verdict")),
        ("message", s.get("message")),
        ("GPU-hours / cost", f"{s.get('gpuHours', 0):.3f} / {s.get('cost', 0):.2f}"),
    ):
        table.add_row(key, "" if value is None else str(value))
    console.print(table)
    for c in s.get("conditions", []):
        console.print(f"  {c['type']}={c['status']} ({c['reason']}): {c.get('message', '')}")


def register(app: typer.Typer) -> None:
    def action(key: str, value_fn: Any, help_text: str) -> None:
        def command(
            rollout: str, namespace: Namespace = "default", kubeconfig: Kubeconfig = None
        ) -> None:
            ro = asyncio.run(_annotate(kubeconfig, rollout, namespace, key, value_fn()))
            typer.echo(
                f"rollout {namespace}/{rollout}: champion.dev/{key} set; the operator acts on its next tick"
            )
            _print_status(ro)

        command.__doc__ = help_text
        app.command(name=key if key != "pause" else "pause")(command)

    action("promote", _stamp, "Skip to 100% for the challenger (GitOps-safe annotation).")
    action("abort", _stamp, "Stop the rollout: the champion keeps all traffic.")
    action("retry", _stamp, "Start a rolled-back or aborted rollout again.")
    action("pause", lambda: "true", "Hold the rollout at its current weights.")

    @app.command()
    def resume(
        rollout: str, namespace: Namespace = "default", kubeconfig: Kubeconfig = None
    ) -> None:
        """Continue a paused rollout."""
        asyncio.run(_annotate(kubeconfig, rollout, namespace, "pause", "false"))
        typer.echo(f"rollout {namespace}/{rollout}: resumed")

    @app.command()
    def status(
        rollout: str, namespace: Namespace = "default", kubeconfig: Kubeconfig = None
    ) -> None:
        """Show the rollout's phase, weights, verdict and conditions."""
        _print_status(asyncio.run(_get(kubeconfig, rollout, namespace)))

    @app.command()
    def history(
        rollout: str, namespace: Namespace = "default", kubeconfig: Kubeconfig = None
    ) -> None:
        """Show the rollout's decisions with their evidence."""
        ro = asyncio.run(_get(kubeconfig, rollout, namespace))
        table = Table(title=f"Decisions of {namespace}/{rollout}")
        for col in ("time", "phase", "step", "decision", "reason", "message / evidence"):
            table.add_column(col)
        for rec in (ro.get("status") or {}).get("history", []):
            evidence = "\n".join(
                f"{e['metric']}: {e.get('challengerEvents', 0):.0f}/{e.get('challengerTotal', 0):.0f} vs "
                f"{e.get('championEvents', 0):.0f}/{e.get('championTotal', 0):.0f}, e={e.get('statistic', 0):.3g} (≥{e.get('threshold', 0):.3g} rolls back)"
                for e in rec.get("evidence", [])
            )
            table.add_row(
                rec["time"],
                rec["phase"],
                str(rec.get("step", "")),
                rec["decision"],
                rec["reason"],
                "\n".join(x for x in (rec.get("message", ""), evidence) if x),
            )
        Console().print(table)
