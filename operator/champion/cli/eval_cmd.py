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
    endpoint: Annotated[
        str, typer.Option(help="Base URL of the challenger, e.g. http://127.0.0.1:8000.")
    ],
    suite: Annotated[
        Path | None, typer.Option(help="EvalSuite YAML (a whole object, or just its spec).")
    ] = None,
    suite_ref: Annotated[
        str | None,
        typer.Option(help="NAMESPACE/NAME of an EvalSuite in the cluster (instead of --suite)."),
    ] = None,
    output_configmap: Annotated[
        str | None,
        typer.Option(
            help="NAMESPACE/NAME: also write the JSON result into this ConfigMap (in-cluster gate)."
        ),
    ] = None,
    kubeconfig: Annotated[
        str | None,
        typer.Option(
            envvar="KUBECONFIG", help="For --suite-ref/--output-configmap; default in-cluster."
        ),
    ] = None,
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
    baseline_model: Annotated[
        str | None,
        typer.Option(
            help="The champion's model name, when it differs (KServe: its InferenceService)."
        ),
    ] = None,
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
        check_scorers,
        load_suite,
        run_suite,
        similarity_embedder,
    )
    from champion.domain.evals.summary import compare, report

    try:
        if (suite is None) == (suite_ref is None):
            raise SuiteError("give exactly one of --suite FILE or --suite-ref NAMESPACE/NAME")
        spec = (
            load_suite(suite)
            if suite is not None
            else asyncio.run(_suite_from_cluster(suite_ref or "", kubeconfig))
        )
        if protocol is not None:
            spec = spec.model_copy(update={"protocol": protocol})
            if protocol not in ("openai-chat", "openai-completions", "kserve-v1", "kserve-v2"):
                raise SuiteError(
                    f"--protocol: {protocol!r} is not one of openai-chat, openai-completions, kserve-v1, kserve-v2"
                )
        check_scorers(spec)
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
                await run_suite(
                    spec,
                    baseline_endpoint,
                    baseline_model or model,
                    embed,
                    lambda: bar.advance(task),
                )
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
    if output_configmap is not None:
        asyncio.run(_write_configmap(output_configmap, kubeconfig, text))
    if fmt == "json":
        typer.echo(text)
    else:
        _table(result)
    raise typer.Exit(0 if result["passed"] else 1)


def _split_ref(ref: str, flag: str) -> tuple[str, str]:
    from champion.adapters.evals.runner import SuiteError

    if ref.count("/") != 1:
        raise SuiteError(f"{flag}: expected NAMESPACE/NAME, got {ref!r}")
    ns, name = ref.split("/")
    return ns, name


async def _suite_from_cluster(ref: str, kubeconfig: str | None) -> Any:
    from pydantic import ValidationError

    from champion.adapters.evals.runner import SuiteError
    from champion.adapters.kube import connect, resource_for
    from champion.api.v1alpha1.evalsuite import EvalSuiteSpec
    from champion.domain.evals.validity import parse_cases
    from champion.domain.spec_errors import describe

    ns, name = _split_ref(ref, "--suite-ref")
    api = await connect(kubeconfig, user_agent="champion-eval")
    try:
        body = await api.get(resource_for("champion.dev/v1alpha1", "EvalSuite"), name, ns)
        if body is None:
            raise SuiteError(f'--suite-ref: EvalSuite "{name}" not found in namespace {ns}')
        try:
            spec = EvalSuiteSpec.model_validate(body["spec"])
        except ValidationError as exc:
            raise SuiteError(f"--suite-ref {ref}: fix the spec: {describe(exc)}") from exc
        ref_cm = spec.cases.config_map
        if ref_cm is None:
            return spec
        # ConfigMap cases are read here, with the Job's ServiceAccount (it may get ConfigMaps).
        where = f'spec.cases.configMap (ConfigMap "{ref_cm.name}" key "{ref_cm.key}")'
        cm = await api.get(resource_for("v1", "ConfigMap"), ref_cm.name, ns)
    finally:
        await api.close()
    if cm is None or ref_cm.key not in (cm.get("data") or {}):
        raise SuiteError(f"{where}: not found in namespace {ns}")
    cases, problems = parse_cases(str(cm["data"][ref_cm.key]), where)
    if problems:
        raise SuiteError("; ".join(m for _, m in problems))
    return spec.model_copy(
        update={"cases": spec.cases.model_copy(update={"inline": cases, "config_map": None})}
    )


async def _write_configmap(ref: str, kubeconfig: str | None, text: str) -> None:
    from champion.adapters.kube import connect
    from champion.builders.eval_job import RESULT_KEY

    ns, name = _split_ref(ref, "--output-configmap")
    api = await connect(kubeconfig, user_agent="champion-eval")
    try:
        await api.ensure(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "labels": {"app.kubernetes.io/managed-by": "champion"},
                },
                "data": {RESULT_KEY: text},
            }
        )
    finally:
        await api.close()


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
    failing = [
        c for c in result["cases"] if not c["passed"] and ("answer" in c or "reference" in c)
    ]
    for c in failing[:20]:
        answered = repr(_short(c["answer"])) if "answer" in c else "no answer"
        console.print(
            f"{c['id']}: answered {answered}, expected {_short(c.get('reference', ''))!r}",
            markup=False,
        )
    if len(failing) > 20:
        console.print(f"… and {len(failing) - 20} more failing cases (--format json shows them)")
    for reason in result["reasons"]:
        console.print(f"[red]{reason}[/red]")
    if "comparison" in result:
        console.print(result["comparison"]["message"])


def _short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
