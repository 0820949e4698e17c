"""`kubectl champion status NAME --watch --timeout D`: blocks until the release ends, one line
per change of phase or step, exit 0 promoted, 1 rolled back or aborted, 2 timed out or bad input.
The test plays the operator: it writes the Rollout's status while the command runs in a thread."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kmock
import pytest

from champion.cli.plugin_common import parse_duration
from tests.cli.support import invoke, seed_rollout, seen, set_status
from tests.emulator.apiserver import ApiServer

BEFORE = {"phase": "Succeeded", "champion": "chat-v1", "observedGeneration": 0}


def _status(phase: str, step: int | None = None, **extra: Any) -> dict[str, Any]:
    weights = {None: 0, 0: 20, 1: 50}[step]
    return {
        "phase": phase,
        "step": step,
        "champion": "chat-v1",
        "challenger": "chat-v2",
        "weights": {"champion": 100 - weights, "challenger": weights},
        "observedGeneration": 1,
        "message": f"{phase} {step}",
        **extra,
    }


def _watch(server: ApiServer, *extra: str) -> Any:
    return invoke(
        "status",
        "chat",
        "--watch",
        "-n",
        "demo",
        "--kubeconfig",
        str(server.kubeconfig),
        "--poll-interval",
        "0.02",
        *extra,
    )


async def test_watch_follows_a_release_to_promotion(apiserver: ApiServer) -> None:
    # A Succeeded the operator wrote before it saw the new spec is not this release's end.
    seed_rollout(apiserver, model_version="chat-v2", status=BEFORE)
    task = _watch(apiserver, "--timeout", "1m")
    await seen(apiserver, task)
    for status in (
        _status("EvalGate"),
        _status("Shadow", mirrorPercent=100),
        _status("Canary", 0),
        _status("Canary", 1),
    ):
        assert not task.done(), task.result().output
        set_status(apiserver, status)
        await seen(apiserver, task)
    set_status(
        apiserver,
        {
            "phase": "Succeeded",
            "champion": "chat-v2",
            "weights": {"champion": 100, "challenger": 0},
            "observedGeneration": 1,
            "message": "chat-v2 promoted",
        },
    )
    result = await task
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    order = ["Succeeded", "EvalGate", "Shadow", "Canary  step 1/2", "Canary  step 2/2"]
    found = [next(i for i, line in enumerate(lines) if want in line) for want in order]
    assert found == sorted(found), result.output
    assert "the operator has not seen the latest spec yet" in lines[0]
    assert "promoted: chat-v2 is champion and serves 100% of traffic" in lines[-1]


@pytest.mark.parametrize(("phase", "word"), [("RolledBack", "rolled back"), ("Aborted", "aborted")])
async def test_watch_exits_1_when_rolled_back_or_aborted(
    apiserver: ApiServer, phase: str, word: str
) -> None:
    seed_rollout(apiserver, model_version="chat-v2", status=_status("Canary", 0))
    task = _watch(apiserver, "--timeout", "30s")
    await seen(apiserver, task)
    set_status(apiserver, _status(phase, message="regression on latency"))
    result = await task
    assert result.exit_code == 1, result.output
    assert f"{word}: regression on latency" in result.output


async def test_watch_times_out_with_2(apiserver: ApiServer) -> None:
    seed_rollout(apiserver, model_version="chat-v2", status=_status("Paused", 0))
    result = await _watch(apiserver, "--timeout", "300ms")
    assert result.exit_code == 2, result.output
    assert "timed out after 0.3s: the rollout is still Paused at step 1/2" in result.output
    assert "kubectl champion resume chat -n demo" in result.output  # the paused hint


async def test_watch_with_output_prints_the_final_object(apiserver: ApiServer) -> None:
    seed_rollout(apiserver, model_version="chat-v2", status=_status("RolledBack"))
    result = await _watch(apiserver, "-o", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["status"]["phase"] == "RolledBack"
    assert "rolled back" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("status", "nope", "--watch", "--timeout", "10s"),  # unknown Rollout
        ("status", "chat", "--watch", "--timeout", "ten minutes"),
        ("status", "chat", "--watch", "--timeout", "10"),  # no unit
    ],
)
async def test_watch_bad_input_exits_2(apiserver: ApiServer, args: tuple[str, ...]) -> None:
    seed_rollout(apiserver, model_version="chat-v2", status=_status("Canary", 0))
    result = await invoke(*args, "-n", "demo", "--kubeconfig", str(apiserver.kubeconfig))
    assert result.exit_code == 2, result.output
    assert "not found in namespace demo" in result.output or "is not a duration" in result.output


async def test_watch_on_a_deleted_kubeconfig_is_bad_input(tmp_path: Path) -> None:
    result = await invoke("status", "chat", "--watch", "--kubeconfig", str(tmp_path / "none"))
    assert result.exit_code == 2
    assert "no kubeconfig at" in result.output


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("10m", 600), ("1h", 3600), ("1h30m", 5400), ("500ms", 0.5), ("0", 0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "-1s", "10x", "1d", "m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


async def test_watch_rides_out_api_errors(apiserver: ApiServer) -> None:
    seed_rollout(apiserver, model_version="chat-v2", status=_status("Canary", 0))
    task = _watch(apiserver, "--timeout", "30s")
    await seen(apiserver, task)
    rollouts = kmock.resource("champion.dev/v1alpha1/rollouts")
    # The client retries a 500 itself (5 attempts, adapters/kube/client.py): 8 errors make one
    # read fail for the watch, which says so once and carries on.
    apiserver.kmock["get", rollouts][:8] << 500 << {"kind": "Status", "code": 500, "message": "injected"}  # fmt: skip
    set_status(apiserver, _status("RolledBack", message="regression on latency"))
    result = await task
    assert result.exit_code == 1, result.output  # the verdict, not the error
    assert result.output.count("warning: reading Rollout demo/chat failed, retrying") == 1
    assert "works again" in result.output


async def test_an_api_error_is_exit_2_not_a_traceback(apiserver: ApiServer) -> None:
    seed_rollout(apiserver, model_version="chat-v2", status=_status("Canary", 0))
    rollouts = kmock.resource("champion.dev/v1alpha1/rollouts")
    apiserver.kmock["get", rollouts] << 403 << {"kind": "Status", "code": 403, "reason": "Forbidden", "message": "no"}  # fmt: skip
    result = await _watch(apiserver, "--timeout", "30s")
    assert result.exit_code == 2, result.output
    assert "the API server answered: 403 Forbidden: no" in result.output
