"""`kubectl champion promote|abort|retry|pause|resume|status|history ROLLOUT`.

Actions set a `champion.dev/<action>` annotation (GitOps-safe: not a spec change), then wait,
bounded by `--wait-timeout`, until the operator has handled it, and print the new state.
`status --watch` follows a release until it ends, with exit codes for CI.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from champion.cli import plugin_release as rel
from champion.cli.plugin_common import (
    FAILED,
    KIND,
    OK,
    ROLLOUT,
    TRANSIENT,
    Context,
    Kubeconfig,
    Namespace,
    OutputOpt,
    Target,
    dump,
    duration_option,
    fail,
    get_rollout,
    human,
    resolve,
    session,
)
from champion.cli.plugin_watch import wait_handled, watch
from champion.reconcile.rollout_evidence import read_decisions

WaitTimeout = Annotated[
    str,
    typer.Option(
        "--wait-timeout",
        help="How long to wait for the operator to handle the action (90s, 10m, 1h).",
    ),
]
NoWait = Annotated[bool, typer.Option("--no-wait", help="Set the annotation and return at once.")]
Interval = Annotated[
    float, typer.Option("--poll-interval", hidden=True, help="Seconds between two reads.")
]


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _console() -> Console:
    console = Console()
    # Piped or captured: do not crop names and messages to a default 80 columns.
    return console if console.is_terminal else Console(width=200)


def _actions_cell(ro: dict[str, Any]) -> str:
    cells = []
    for action, value, handled in rel.action_states(ro):
        state = "handled" if handled else "live: not yet handled by the operator"
        cells.append(f"champion.dev/{action}={value} ({state})")
    return "\n".join(cells)


def _print_status(ro: dict[str, Any]) -> None:
    s = rel.status_of(ro)
    w = s.get("weights") or {}
    console = _console()
    table = Table(
        title=f"Rollout {ro['metadata']['namespace']}/{ro['metadata']['name']}", show_header=False
    )
    generation = ro["metadata"].get("generation")
    seen = s.get("observedGeneration")
    lag = (
        f" (the operator has seen generation {seen} of {generation})"
        if not rel.observed(ro)
        else ""
    )
    for key, value in (
        ("phase", s.get("phase")),
        ("step", rel.step_label(ro)),
        ("target", f"{rel.target_of(ro)}{lag}"),
        ("champion", f"{s.get('champion')} ({w.get('champion', 0)}%)"),
        ("challenger", f"{s.get('challenger')} ({w.get('challenger', 0)}%)"),
        ("mirror", f"{s.get('mirrorPercent', 0)}%"),
        ("verdict", s.get("verdict")),
        ("message", s.get("message")),
        ("GPU-hours / cost", f"{s.get('gpuHours', 0):.3f} / {s.get('cost', 0):.2f}"),
        ("actions", _actions_cell(ro) or None),
    ):
        table.add_row(key, "" if value is None else str(value))
    console.print(table)
    for c in s.get("conditions", []):
        console.print(f"  {c['type']}={c['status']} ({c['reason']}): {c.get('message', '')}")


async def _get(target: Target, name: str) -> dict[str, Any]:
    async with session(target) as api:
        return await get_rollout(api, name, target.namespace)


async def _decisions(target: Target, name: str) -> list[dict[str, Any]]:
    """From the Rollout's evidence ConfigMap, as far as its status committed to them."""
    async with session(target) as api:
        return await read_decisions(api, await get_rollout(api, name, target.namespace))


def _value(command: str, ro: dict[str, Any], full: bool) -> tuple[str, str]:
    if command == "promote":
        return "promote", rel.promote_value(_stamp(), full)
    if command == "pause":
        return "pause", rel.pause_value(ro, True)
    if command == "resume":
        return "pause", rel.pause_value(ro, False)
    return command, _stamp()


async def _act(
    target: Target,
    name: str,
    command: str,
    *,
    full: bool,
    wait: bool,
    wait_timeout: float,
    interval: float,
) -> int:
    ns = target.namespace
    async with session(target) as api:
        before = await get_rollout(api, name, ns)
        why = rel.refusal(command, before)
        if why is not None:
            fail(f"Rollout {ns}/{name}: {why}", FAILED)
        key, value = _value(command, before, full)
        try:
            patched = await api.patch(
                ROLLOUT, name, {"metadata": {"annotations": {f"champion.dev/{key}": value}}}, ns
            )
        except TRANSIENT as exc:
            fail(f"cannot annotate Rollout {ns}/{name}: {exc}")
        typer.echo(f"rollout {ns}/{name}: champion.dev/{key}={value} set")
        if not wait:
            typer.echo(
                "not waiting: the operator acts on its next tick; follow it with "
                f"`kubectl champion status {name} -n {ns} --watch`"
            )
            return OK
        typer.echo(f"waiting up to {human(wait_timeout)} for the operator to handle it ...")
        state, after = await wait_handled(
            api,
            patched,
            key,
            value,
            timeout=wait_timeout,
            interval=interval,
            echo_err=lambda m: typer.echo(m, err=True),
        )
    if state is rel.Handling.DELETED:
        fail(f"Rollout {ns}/{name} was deleted before the operator handled champion.dev/{key}")
    if state is rel.Handling.PENDING:
        fail(
            f"the operator has not handled champion.dev/{key}={value} within "
            f"{human(wait_timeout)}: is it running? The annotation stays set and takes effect "
            f"when it does; see `kubectl describe {KIND} {name} -n {ns}`"
        )
    _print_status(after)
    if state is rel.Handling.SUPERSEDED:
        fail(
            f"champion.dev/{key} was changed to {rel.annotation(after, key)!r} before the "
            f"operator handled {value!r}",
            FAILED,
        )
    if command == "promote" and not full and rel.overshot(before, after):
        typer.echo(
            "warning: the operator promoted to 100% instead of one step: this operator reads "
            "every champion.dev/promote value as a full promote",
            err=True,
        )
    problem = rel.effect(command, before, after, full)
    if problem is not None:
        fail(f"champion.dev/{key}={value}: {problem}", FAILED)
    return OK


async def _watch_status(
    target: Target, name: str, timeout: float, interval: float, quiet: bool
) -> tuple[int, dict[str, Any] | None, str]:
    def echo(line: str) -> None:
        typer.echo(line, err=quiet)

    async with session(target) as api:
        ro = await get_rollout(api, name, target.namespace)
        result = await watch(
            api,
            ro,
            timeout=timeout,
            interval=interval,
            echo=echo,
            echo_err=lambda m: typer.echo(m, err=True),
        )
    return result.code, result.rollout, result.message


def _run_action(
    command: str,
    rollout: str,
    namespace: str | None,
    context: str | None,
    kubeconfig: str | None,
    wait_timeout: str,
    no_wait: bool,
    poll_interval: float,
    full: bool = False,
) -> None:
    timeout = duration_option(wait_timeout, "--wait-timeout")
    target = resolve(kubeconfig, context, namespace)
    code = asyncio.run(
        _act(
            target,
            rollout,
            command,
            full=full,
            wait=not no_wait,
            wait_timeout=timeout,
            interval=poll_interval,
        )
    )
    raise typer.Exit(code)


ACTION_HELP = {
    "abort": "Stop the rollout: the champion keeps all traffic.",
    "retry": "Start a rolled-back or aborted rollout again.",
    "pause": "Hold the rollout at its current weights.",
    "resume": "Continue a paused rollout.",
}


def register(app: typer.Typer) -> None:
    @app.command()
    def promote(
        rollout: str,
        full: Annotated[
            bool, typer.Option("--full", help="Skip the remaining steps: 100% to the challenger.")
        ] = False,
        namespace: Namespace = None,
        context: Context = None,
        kubeconfig: Kubeconfig = None,
        wait_timeout: WaitTimeout = "30s",
        no_wait: NoWait = False,
        poll_interval: Interval = 0.5,
    ) -> None:
        """Advance the challenger to the next step; with --full, to 100% (GitOps-safe annotation)."""
        _run_action(
            "promote",
            rollout,
            namespace,
            context,
            kubeconfig,
            wait_timeout,
            no_wait,
            poll_interval,
            full,
        )

    def action(command: str) -> None:
        def run(
            rollout: str,
            namespace: Namespace = None,
            context: Context = None,
            kubeconfig: Kubeconfig = None,
            wait_timeout: WaitTimeout = "30s",
            no_wait: NoWait = False,
            poll_interval: Interval = 0.5,
        ) -> None:
            _run_action(
                command,
                rollout,
                namespace,
                context,
                kubeconfig,
                wait_timeout,
                no_wait,
                poll_interval,
            )

        run.__doc__ = ACTION_HELP[command]
        app.command(name=command)(run)

    for command in ACTION_HELP:
        action(command)

    @app.command()
    def status(
        rollout: str,
        namespace: Namespace = None,
        context: Context = None,
        kubeconfig: Kubeconfig = None,
        output: OutputOpt = None,
        watch_: Annotated[
            bool,
            typer.Option(
                "--watch",
                "-w",
                help="Follow the release until it ends; exit 0 promoted, 1 rolled back or "
                "aborted, 2 timed out or bad input.",
            ),
        ] = False,
        timeout: Annotated[
            str,
            typer.Option(help="With --watch: give up after this long (90s, 10m, 1h; 0: never)."),
        ] = "0",
        poll_interval: Interval = 1.0,
    ) -> None:
        """Show the rollout's phase, step, weights, verdict, conditions and action annotations."""
        limit = duration_option(timeout, "--timeout")
        target = resolve(kubeconfig, context, namespace)
        if not watch_:
            ro = asyncio.run(_get(target, rollout))
            if output is None:
                _print_status(ro)
            else:
                typer.echo(dump(ro, output))
            return
        code, last, message = asyncio.run(
            _watch_status(target, rollout, limit, poll_interval, quiet=output is not None)
        )
        if output is not None and last is not None:
            typer.echo(dump(last, output))
        typer.echo(message, err=output is not None)
        raise typer.Exit(code)

    @app.command()
    def history(
        rollout: str,
        namespace: Namespace = None,
        context: Context = None,
        kubeconfig: Kubeconfig = None,
        output: OutputOpt = None,
    ) -> None:
        """Show the rollout's decisions with their evidence."""
        target = resolve(kubeconfig, context, namespace)
        records = asyncio.run(_decisions(target, rollout))
        if output is not None:
            typer.echo(dump(records, output))
            return
        table = Table(title=f"Decisions of {target.namespace}/{rollout}")
        for col in ("time", "phase", "step", "decision", "reason", "message / evidence"):
            table.add_column(col)
        for rec in records:
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
