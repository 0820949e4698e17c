"""What every `kubectl champion` command shares: the kubeconfig, its context and namespace
(resolved as kubectl resolves them), `-o json|yaml`, durations, exit codes and messages."""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import aiohttp
import typer
import yaml

from champion.adapters.kube import ApiError, KubeApi, connect, resource_for

ROLLOUT = resource_for("champion.dev/v1alpha1", "Rollout")
# With Argo Rollouts installed, `rollout`/`rollouts`/`ro` mean theirs: every hint names ours.
KIND = "rollouts.champion.dev"
USER_AGENT = "kubectl-champion"

# Exit codes, for CI (those of Argo Rollouts' `status` command).
OK = 0
FAILED = 1  # rolled back, aborted, refused ("nothing to abort"), or not acted on
BAD_INPUT = 2  # timed out, bad input (unknown Rollout, bad duration, bad context), no answer

# What the API (or the way to it) may answer instead of an object: retried while following
# a Rollout, a clear error (exit 2: no answer is no verdict) anywhere else.
TRANSIENT = (ApiError, OSError, TimeoutError, aiohttp.ClientError)

DEFAULT_KUBECONFIG = "~/.kube/config"
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class Output(StrEnum):
    json = "json"
    yaml = "yaml"


Namespace = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        "-n",
        help="Namespace (default: the kubeconfig context's namespace, else default).",
        show_default=False,
    ),
]
Context = Annotated[
    str | None, typer.Option("--context", help="The kubeconfig context to use (default: current).")
]
Kubeconfig = Annotated[str | None, typer.Option(envvar="KUBECONFIG", help="kubeconfig path.")]
OutputOpt = Annotated[
    Output | None,
    typer.Option("--output", "-o", help="json or yaml (default: a table).", show_default=False),
]


def fail(message: str, code: int = BAD_INPUT) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@dataclass(frozen=True)
class Target:
    """Where the commands go: a kubeconfig (None: in-cluster), its context, the namespace."""

    kubeconfig: str | None
    context: str | None
    namespace: str


def _read_kubeconfigs(files: list[Path]) -> tuple[dict[str, dict[str, Any]], str | None, bool]:
    """kubectl's merge of a KUBECONFIG list: the first file that sets current-context wins,
    and the first definition of a context wins. Returns (contexts, current, any file found)."""
    contexts: dict[str, dict[str, Any]] = {}
    current: str | None = None
    found = False
    for path in files:
        try:
            doc = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError:
            continue  # kubectl skips missing files in a KUBECONFIG list
        except (OSError, yaml.YAMLError) as exc:
            fail(f"cannot read kubeconfig {path}: {exc}")
        found = True
        if not isinstance(doc, dict):
            fail(f"kubeconfig {path} is not a kubeconfig (no mapping at the top)")
        if not current and doc.get("current-context"):
            current = str(doc["current-context"])
        for entry in doc.get("contexts") or []:
            if isinstance(entry, dict) and entry.get("name") and entry["name"] not in contexts:
                contexts[str(entry["name"])] = entry.get("context") or {}
    return contexts, current, found


def resolve(kubeconfig: str | None, context: str | None, namespace: str | None) -> Target:
    """The namespace as kubectl picks it: `-n`, else the context's `namespace`, else default.
    In a pod with no kubeconfig given, the ServiceAccount's namespace."""
    if (
        kubeconfig is None
        and context is None
        and os.environ.get("KUBERNETES_SERVICE_HOST")
        and (SERVICE_ACCOUNT / "token").exists()
    ):
        ns_file = SERVICE_ACCOUNT / "namespace"
        in_pod = ns_file.read_text().strip() if ns_file.exists() else ""
        return Target(None, None, namespace or in_pod or "default")
    raw = kubeconfig or str(Path(DEFAULT_KUBECONFIG).expanduser())
    files = [Path(p).expanduser() for p in raw.split(os.pathsep) if p]
    contexts, current, found = _read_kubeconfigs(files)
    shown = os.pathsep.join(str(f) for f in files)
    if not found:
        fail(f"no kubeconfig at {shown}: pass --kubeconfig or set KUBECONFIG")
    if context is not None and context not in contexts:
        known = ", ".join(sorted(contexts)) or "none"
        fail(f'context "{context}" not found in kubeconfig {shown} (contexts: {known})')
    name = context or current
    if name is None:
        fail(f"kubeconfig {shown} has no current-context: pass --context")
    if name not in contexts:
        fail(f'the current context "{name}" is not defined in kubeconfig {shown}')
    ns = namespace or contexts[name].get("namespace") or "default"
    return Target(os.pathsep.join(str(f) for f in files), name, str(ns))


@asynccontextmanager
async def session(target: Target) -> AsyncIterator[KubeApi]:
    """A client for `target`; an API error nobody handled is reported, exit 2, never a
    traceback with exit 1 (which a CI job would read as "rolled back")."""
    try:
        api = await connect(target.kubeconfig, context=target.context, user_agent=USER_AGENT)
    except Exception as exc:  # the kubernetes loader's ConfigException and kin
        fail(f"cannot use kubeconfig context {target.context or '(in-cluster)'}: {exc}")
    try:
        yield api
    except TRANSIENT as exc:
        fail(
            f"the API server answered: {exc}"
            if isinstance(exc, ApiError)
            else f"cannot reach the API server: {exc}"
        )
    finally:
        await api.close()


def not_found(name: str, namespace: str) -> NoReturn:
    fail(
        f'Rollout "{name}" not found in namespace {namespace}; '
        f"list them with: kubectl get {KIND} -n {namespace}"
    )


async def get_rollout(api: KubeApi, name: str, namespace: str) -> dict[str, Any]:
    ro = await api.get(ROLLOUT, name, namespace)
    if ro is None:
        not_found(name, namespace)
    return ro


def dump(obj: Any, output: Output) -> str:
    if output == Output.json:
        return json.dumps(obj, indent=2, ensure_ascii=False)
    return yaml.safe_dump(obj, sort_keys=False, allow_unicode=True).rstrip("\n")


_DURATION = re.compile(r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ms|s|m|h))+")
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in a Go-style duration, as kubectl takes them: 90s, 10m, 1h, 1h30m, 500ms.
    "0" is zero (no limit where a timeout is meant). Raises ValueError with a message."""
    value = text.strip()
    if value == "0":
        return 0.0
    if not _DURATION.fullmatch(value):
        raise ValueError(
            f'"{text}" is not a duration: give a number with a unit, e.g. 90s, 10m, 1h or 1h30m'
        )
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(value))


def duration_option(text: str, option: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        fail(f"{option}: {exc}")


def human(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"
