"""Actions wait, bounded, until the operator has handled their annotation, then print the new
state; `abort` on a finished rollout is refused; `status` tells live annotations from handled
ones; `promote` is one step and `promote --full` is 100%. The test plays the operator as the
machine does: it records the annotation's value in status.handledActions, in the same status
write as the phase it moves to."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from champion.cli import plugin_release as rel
from tests.cli.support import invoke, rollout, seed_rollout, set_status, until
from tests.emulator.apiserver import ApiServer

ROLLED_BACK = {
    "phase": "RolledBack",
    "champion": "chat-v1",
    "challenger": "chat-v2",
    "weights": {"champion": 100, "challenger": 0},
    "observedGeneration": 1,
    "message": "regression on latency: chat-v2 removed",
}
CANARY = {
    "phase": "Canary",
    "step": 0,
    "champion": "chat-v1",
    "challenger": "chat-v2",
    "weights": {"champion": 80, "challenger": 20},
    "observedGeneration": 1,
    "message": "canary step 1/2: 20% of live traffic to chat-v2",
}


def _run(server: ApiServer, *args: str) -> Any:
    return invoke(
        *args,
        "chat",
        "-n",
        "demo",
        "--kubeconfig",
        str(server.kubeconfig),
        "--poll-interval",
        "0.02",
    )


async def _annotation(server: ApiServer, key: str, old: str | None = None) -> str:
    """Waits for the command to set champion.dev/<key> (to a value other than `old`)."""

    def current() -> str | None:
        value = rel.annotation(rollout(server), key)
        return value if value is not None and value != old else None

    value: str = await until(current, what=f"champion.dev/{key} to be set")
    return value


def _handled(server: ApiServer, key: str, value: str, status: dict[str, Any]) -> None:
    before = rel.status_of(rollout(server)).get("handledActions") or {}
    set_status(server, {**status, "handledActions": {**before, key: value}})


def _phase_row(output: str) -> str:
    match = re.search(r"│ phase\s+│ (\S+)", output)
    assert match, output
    return match.group(1)


async def test_retry_waits_and_prints_the_new_state(apiserver: ApiServer) -> None:
    seed_rollout(apiserver, model_version="chat-v2", status=ROLLED_BACK)
    task = _run(apiserver, "retry", "--wait-timeout", "20s")
    value = await _annotation(apiserver, "retry")
    await asyncio.sleep(0.1)  # the command is polling: still waiting
    assert not task.done()
    pending = {**ROLLED_BACK, "phase": "Pending", "message": "retrying the rollout to chat-v2"}
    _handled(apiserver, "retry", value, pending)
    result = await task
    assert result.exit_code == 0, result.output
    assert _phase_row(result.output) == "Pending"  # not the old RolledBack table
    assert f"champion.dev/retry={value} (handled)" in result.output


async def test_an_action_the_operator_does_not_handle_times_out(apiserver: ApiServer) -> None:
    seed_rollout(apiserver, model_version="chat-v2", status=CANARY)
    result = await _run(apiserver, "abort", "--wait-timeout", "300ms")
    assert result.exit_code == 2, result.output
    assert "the operator has not handled champion.dev/abort=" in result.output
    assert "within 0.3s" in result.output
    assert "kubectl describe rollouts.champion.dev chat -n demo" in result.output
    assert rel.annotation(rollout(apiserver), "abort")  # set, and stays set


async def test_handled_but_not_acted_on_exits_1(apiserver: ApiServer) -> None:
    # The machine records a promote while the challenger is not Ready, and does nothing.
    seed_rollout(apiserver, model_version="chat-v2", status=CANARY)
    task = _run(apiserver, "promote", "--full")
    value = await _annotation(apiserver, "promote")
    _handled(apiserver, "promote", value, {**CANARY, "message": "chat-v2 is not Ready"})
    result = await task
    assert result.exit_code == 1, result.output
    assert "the operator handled it but did not promote to 100%" in result.output
    assert "chat-v2 is not Ready" in result.output


async def test_abort_waits_for_aborted(apiserver: ApiServer) -> None:
    seed_rollout(apiserver, model_version="chat-v2", status=CANARY)
    task = _run(apiserver, "abort")
    value = await _annotation(apiserver, "abort")
    _handled(apiserver, "abort", value, {**ROLLED_BACK, "phase": "Aborted", "message": "aborted"})
    result = await task
    assert result.exit_code == 0, result.output
    assert _phase_row(result.output) == "Aborted"


@pytest.mark.parametrize("phase", ["Succeeded", "RolledBack", "Aborted"])
async def test_abort_on_a_finished_rollout_has_nothing_to_abort(
    apiserver: ApiServer, phase: str
) -> None:
    seed_rollout(apiserver, model_version="chat-v2", status={**ROLLED_BACK, "phase": phase})
    result = await _run(apiserver, "abort")
    assert result.exit_code == 1, result.output
    assert f"nothing to abort: the rollout is {phase}" in result.output
    assert rel.annotation(rollout(apiserver), "abort") is None  # not set


async def test_no_wait_returns_at_once(apiserver: ApiServer) -> None:
    seed_rollout(apiserver, model_version="chat-v2", status=CANARY)
    result = await _run(apiserver, "pause", "--no-wait")
    assert result.exit_code == 0, result.output
    assert rel.annotation(rollout(apiserver), "pause") == "true"
    assert "kubectl champion status chat -n demo --watch" in result.output


async def test_status_shows_live_and_handled_annotations(apiserver: ApiServer) -> None:
    seed_rollout(
        apiserver,
        model_version="chat-v2",
        status={**CANARY, "handledActions": {"promote": "2026-01-01T00:00:00Z"}},
        annotations={"champion.dev/promote": "2026-01-01T00:00:00Z", "champion.dev/pause": "true"},
    )
    result = await invoke("status", "chat", "-n", "demo", "--kubeconfig", str(apiserver.kubeconfig))
    assert result.exit_code == 0, result.output
    assert "champion.dev/promote=2026-01-01T00:00:00Z (handled)" in result.output
    assert "champion.dev/pause=true (live: not yet handled by the operator)" in result.output


async def test_promote_is_one_step_and_full_is_100(apiserver: ApiServer) -> None:
    seed_rollout(apiserver, model_version="chat-v2", status=CANARY)
    task = _run(apiserver, "promote")
    step = await _annotation(apiserver, "promote")
    assert step.startswith("step:")
    _handled(
        apiserver,
        "promote",
        step,
        {**CANARY, "step": 1, "weights": {"champion": 50, "challenger": 50}, "message": "2/2"},
    )
    result = await task
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output

    task = _run(apiserver, "promote", "--full")
    full = await _annotation(apiserver, "promote", old=step)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", full)  # today's value: a timestamp
    promoted = {
        "phase": "Succeeded",
        "champion": "chat-v2",
        "weights": {"champion": 100, "challenger": 0},
        "observedGeneration": 1,
    }
    _handled(apiserver, "promote", full, promoted)
    result = await task
    assert result.exit_code == 0, result.output
    assert _phase_row(result.output) == "Succeeded"


async def test_a_step_promote_that_went_to_100_is_flagged(apiserver: ApiServer) -> None:
    # Today's machine reads every champion.dev/promote value as "promote to 100%".
    seed_rollout(apiserver, model_version="chat-v2", status=CANARY)
    task = _run(apiserver, "promote")
    value = await _annotation(apiserver, "promote")
    _handled(apiserver, "promote", value, {**CANARY, "phase": "Succeeded", "champion": "chat-v2"})
    result = await task
    assert result.exit_code == 0, result.output
    assert "promoted to 100% instead of one step" in result.stderr


async def test_resume_uses_a_value_the_operator_has_not_handled(apiserver: ApiServer) -> None:
    # Paused by a step with pause=false already handled: "false" again would change nothing.
    seed_rollout(
        apiserver,
        model_version="chat-v2",
        status={**CANARY, "phase": "Paused", "handledActions": {"pause": "false"}},
        annotations={"champion.dev/pause": "false"},
    )
    task = _run(apiserver, "resume")
    value = await _annotation(apiserver, "pause", old="false")
    assert value == "no"
    _handled(apiserver, "pause", value, {**CANARY, "step": 1})
    result = await task
    assert result.exit_code == 0, result.output
    assert _phase_row(result.output) == "Canary"


async def test_resume_when_not_paused_has_nothing_to_resume(apiserver: ApiServer) -> None:
    seed_rollout(apiserver, model_version="chat-v2", status=CANARY)
    result = await _run(apiserver, "resume")
    assert result.exit_code == 1
    assert "nothing to resume: the rollout is Canary" in result.output
    assert rel.annotation(rollout(apiserver), "pause") is None


async def test_every_hint_names_rollouts_champion_dev(apiserver: ApiServer) -> None:
    seed_rollout(apiserver)
    result = await invoke("status", "nope", "-n", "demo", "--kubeconfig", str(apiserver.kubeconfig))
    assert "kubectl get rollouts.champion.dev -n demo" in result.output
    # No hint anywhere in the plugin names a bare `rollout(s)`/`ro`: with Argo Rollouts
    # installed, those are rollouts.argoproj.io.
    cli = Path(rel.__file__).parent
    bare = re.compile(r"kubectl\s+(?:\w+\s+)+?(?:rollouts?|ro)\b(?!\.champion\.dev)")
    for module in sorted(cli.glob("plugin*.py")):
        for line in module.read_text().splitlines():
            assert not bare.search(line), f"{module.name}: {line.strip()}"
