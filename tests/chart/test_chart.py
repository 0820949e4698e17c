"""The Helm chart, rendered by the real helm binary; Argo CD health checks run by a real Lua."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from lupa import LuaRuntime

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "champion"


def render(helm: str, *sets: str) -> list[dict[str, Any]]:
    args = [helm, "template", "rel", str(CHART), "--namespace", "champion-system",
            "--set", "image.repository=registry.example.com/champion"]  # fmt: skip
    for s in sets:
        args += ["--set", s]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def test_lint_strict(helm_bin: str) -> None:
    result = subprocess.run(
        [helm_bin, "lint", "--strict", str(CHART)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "sets",
    [
        (),
        (
            "replicas=2",
            "metrics.serviceMonitor.enabled=true",
            "metrics.prometheusRule.enabled=true",
            "watchNamespaces={a,b}",
            "prometheus.url=http://prom:9090",
            "evalJobs.namespaces={team-a,team-b}",
        ),
        ("crds.install=false",),
    ],
)
def test_rendered_built_ins_are_valid_kubernetes(helm_bin: str, sets: tuple[str, ...]) -> None:
    for doc in render(helm_bin, *sets):
        if doc["apiVersion"].startswith("monitoring.coreos.com"):
            continue  # Prometheus Operator kinds: not built in, no schema offline
        kubernetes_validate.validate(doc, "1.30", strict=True)


def test_chart_crds_equal_the_generated_ones(helm_bin: str) -> None:
    rendered = {
        d["metadata"]["name"]: d
        for d in render(helm_bin)
        if d["kind"] == "CustomResourceDefinition"
    }
    for path in (ROOT / "crds").glob("*.yaml"):
        want = yaml.safe_load(path.read_text())
        got = rendered[want["metadata"]["name"]]
        assert got["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
        got["metadata"].pop("annotations")
        assert got == want
    assert not [
        d for d in render(helm_bin, "crds.install=false") if d["kind"] == "CustomResourceDefinition"
    ]


def test_operator_runs_locked_down(helm_bin: str) -> None:
    dep = next(d for d in render(helm_bin, "replicas=2") if d["kind"] == "Deployment")
    pod = dep["spec"]["template"]["spec"]
    assert (
        pod["securityContext"]["runAsNonRoot"]
        and pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    )
    c = pod["containers"][0]
    assert c["securityContext"]["readOnlyRootFilesystem"] and c["securityContext"]["capabilities"][
        "drop"
    ] == ["ALL"]
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert (
        "--peering=rel-champion" in c["args"]
        and c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    )


def test_rbac_is_least_privilege(helm_bin: str) -> None:
    role = next(d for d in render(helm_bin) if d["kind"] == "ClusterRole")
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"]
        if "secrets" in rule["resources"]:
            assert rule["verbs"] == ["get"]
        if rule["apiGroups"] == ["champion.dev"] and "rollouts" in rule["resources"]:
            assert "update" not in rule["verbs"] and "create" not in rule["verbs"]


def test_dockerfile_is_pinned_and_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text()
    froms = [line.split()[1] for line in text.splitlines() if line.startswith("FROM")]
    assert froms and all(":" in f and "latest" not in f for f in froms)
    assert "USER 65532:65532" in text


def lua_health(kind: str, obj: dict[str, Any]) -> dict[str, str]:
    lua = LuaRuntime(unpack_returned_tuples=True)
    script = (CHART / "argocd" / f"{kind}.lua").read_text()
    fn = lua.eval(f"function(obj) {script} end")
    result = fn(lua.table_from(_to_lua(lua, obj)))
    return {"status": result["status"], "message": result["message"]}


def _to_lua(lua: LuaRuntime, value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (lua.table_from(_to_lua(lua, v)) if isinstance(v, dict | list) else v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [lua.table_from(_to_lua(lua, v)) if isinstance(v, dict | list) else v for v in value]
    return value


@pytest.mark.parametrize(
    ("phase", "health"),
    [
        ("Succeeded", "Healthy"),
        ("Canary", "Progressing"),
        ("Shadow", "Progressing"),
        ("Paused", "Suspended"),
        ("RolledBack", "Degraded"),
        ("Aborted", "Degraded"),
        ("CapacityPending", "Degraded"),
    ],
)
def test_argocd_rollout_health(phase: str, health: str) -> None:
    obj = {
        "metadata": {"generation": 2},
        "status": {"phase": phase, "observedGeneration": 2, "message": "why"},
    }
    assert lua_health("rollout", obj)["status"] == health


def test_argocd_rollout_not_yet_seen_is_progressing() -> None:
    obj = {"metadata": {"generation": 3}, "status": {"phase": "Succeeded", "observedGeneration": 2}}
    assert lua_health("rollout", obj)["status"] == "Progressing"


def test_argocd_rollout_degraded_condition_wins_over_the_phase() -> None:
    # A Succeeded rollout whose champion lost its Deployment: Degraded, with the message.
    message = "champion chat-v1: Deployment chat-chat-v1 is missing (deleted?): recreating it"
    obj = {
        "metadata": {"generation": 2},
        "status": {
            "phase": "Succeeded",
            "observedGeneration": 2,
            "message": "first rollout",
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "ServingChildMissing", "message": message},
                {"type": "Degraded", "status": "True", "reason": "ServingChildMissing", "message": message},
            ],
        },
    }  # fmt: skip
    assert lua_health("rollout", obj) == {
        "status": "Degraded",
        "message": f"ServingChildMissing: {message}",
    }
    # Back to Degraded=False: the phase decides again.
    obj["status"]["conditions"] = [{"type": "Degraded", "status": "False", "reason": "Stable"}]
    assert lua_health("rollout", obj) == {"status": "Healthy", "message": "first rollout"}


def test_argocd_modelversion_held_deletion_is_degraded_with_the_way_out() -> None:
    why = "ModelVersion chat-v1 is kept until no Rollout uses it; used by Rollout chat (champion, 100% of traffic). To release it: ..."
    obj = {
        "status": {
            "conditions": [
                {"type": "Valid", "status": "True", "message": "spec and references are valid"},
                {"type": "Deleting", "status": "True", "reason": "DeletionBlocked", "message": why},
            ]
        }
    }  # fmt: skip
    assert lua_health("modelversion", obj) == {"status": "Degraded", "message": why}


@pytest.mark.parametrize(
    ("kind", "cond", "status", "health"),
    [
        ("modelversion", "Valid", "True", "Healthy"),
        ("modelversion", "Valid", "False", "Degraded"),
        ("gpupool", "Ready", "False", "Degraded"),
        ("evalsuite", "Valid", "True", "Healthy"),
    ],
)
def test_argocd_condition_health(kind: str, cond: str, status: str, health: str) -> None:
    obj = {"status": {"conditions": [{"type": cond, "status": status, "message": "m"}]}}
    assert lua_health(kind, obj)["status"] == health
