"""`champion eval run`: run an EvalSuite against any endpoint, locally or in CI."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="Run evaluation suites against model endpoints.", no_args_is_help=True)


@app.command()
def run(
    suite: Annotated[Path, typer.Option(help="EvalSuite YAML (a whole object, or just its spec).")],
    endpoint: Annotated[
        str, typer.Option(help="Base URL of the challenger, e.g. http://127.0.0.1:8000.")
    ],
    baseline_endpoint: Annotated[
        str | None, typer.Option(help="The champion's URL, for a paired comparison.")
    ] = None,
    protocol: Annotated[
        str | None,
        typer.Option(
            help="Override spec.protocol: openai-chat, openai-completions, kserve-v1, kserve-v2."
        ),
    ] = None,
    model: Annotated[
        str, typer.Option(help="Model name sent in requests / KServe paths.")
    ] = "default",
    format: Annotated[
        str, typer.Option("--format", help="table or json (json is the default when piped).")
    ] = "",
    output: Annotated[
        Path | None, typer.Option(help="Also write the JSON result to this file.")
    ] = None,
) -> None:
    """Exit code 0 when the suite passes, 1 when it fails, 2 on bad input."""
    from champion.adapters.evals.runner import (
        SuiteError,
        load_suite,
        run_suite,
        similarity_embedder,
    )
    from champion.domain.evals.summary import compare, report

    try:
        spec = load_suite(suite)
        if protocol is not None:
            spec = spec.model_copy(update={"protocol": protocol})
            if protocol not in ("openai-chat", "openai-completions", "kserve-v1", "kserve-v2"):
                raise SuiteError(
                    f"--protocol: {protocol!r} is not one of openai-chat, openai-completions, kserve-v1, kserve-v2"
                )
    except SuiteError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    embed = similarity_embedder() if any(s.type == "similarity" for s in spec.scorers) else None
    fmt = format or ("table" if sys.stdout.isatty() else "json")

    async def go() -> dict[str, Any]:
        from rich.progress import Progress

        with Progress(disable=not sys.stderr.isatty(), transient=True) as bar:
            task = bar.add_task("evaluating", total=None)
            challenger = await run_suite(spec, endpoint, model, embed, lambda: bar.advance(task))
            champion = (
                await run_suite(spec, baseline_endpoint, model, embed, lambda: bar.advance(task))
                if baseline_endpoint
                else None
            )
        comparison = (
            compare(challenger, champion, spec.thresholds.max_regression_vs_champion)
            if champion is not None
            else None
        )
        result = report(challenger, spec.thresholds, comparison)
        if challenger and all(c.error and "unreachable" in c.error for c in challenger):
            result["passed"] = False
            result["reasons"].insert(0, f"endpoint {endpoint} is down: {challenger[0].error}")
        return result

    try:
        result = asyncio.run(go())
    except SuiteError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    text = json.dumps(result, indent=2)
    if output is not None:
        output.write_text(text)
    if fmt == "json":
        typer.echo(text)
    else:
        _table(result)
    raise typer.Exit(0 if result["passed"] else 1)


def _table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(
        title=f"{'PASSED' if result['passed'] else 'FAILED'}: score {result['score']:.3f}"
    )
    for col in ("case", "passed", "scores", "latency s", "error"):
        table.add_column(col)
    for c in result["cases"]:
        table.add_row(
            c["id"],
            "yes" if c["passed"] else "no",
            ", ".join(f"{k}={v:g}" for k, v in c["scores"].items()),
            f"{c['latency_seconds']:.3f}",
            c["error"] or "",
        )
    console.print(table)
    for reason in result["reasons"]:
        console.print(f"[red]{reason}[/red]")
    if "comparison" in result:
        console.print(result["comparison"]["message"])
