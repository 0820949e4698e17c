"""The chart as a platform team installs it: the values they set, rendered by the real helm,
land where Kubernetes reads them (checked by kubernetes-validate); bad values are refused by the
schema naming the field; the image must be named; names, RBAC per mode and alerts (checked and
unit-tested by the real promtool)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "champion"
NAMESPACE = "champion-system"
IMAGE = "registry.example.com/ml/champion"
K8S = "1.30"  # as tests/chart/test_chart.py; the chart's kubeVersion is >=1.27


def helm_template(
    helm: str,
    *sets: str,
    release: str = "rel",
    values: dict[str, Any] | None = None,
    tmp: Path | None = None,
    image: bool = True,
) -> subprocess.CompletedProcess[str]:
    args = [helm, "template", release, str(CHART), "--namespace", NAMESPACE]
    if image:
        args += ["--set", f"image.repository={IMAGE}"]
    if values is not None:
        assert tmp is not None
        path = tmp / "values.yaml"
        path.write_text(yaml.safe_dump(values))
        args += ["-f", str(path)]
    for s in sets:
        args += ["--set", s]
    return subprocess.run(args, capture_output=True, text=True)


def render(helm: str, *sets: str, **kw: Any) -> list[dict[str, Any]]:
    result = helm_template(helm, *sets, **kw)
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    for doc in docs:
        if not doc["apiVersion"].startswith("monitoring.coreos.com"):
            kubernetes_validate.validate(doc, K8S, strict=True)
    return docs


def refused(helm: str, *sets: str, **kw: Any) -> str:
    result = helm_template(helm, *sets, **kw)
    assert result.returncode != 0, "helm template accepted what it should refuse"
    return result.stderr


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"{len(found)} {kind} named {name}"
    return found[0]


def pod_spec(docs: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = one(docs, "Deployment")["spec"]["template"]["spec"]
    return spec


# --- image -------------------------------------------------------------------------------


@pytest.mark.parametrize("sets", [(), ("replicas=0",), ("replicas=2",)])
def test_image_repository_is_required_with_how_to_build_it(
    helm_bin: str, sets: tuple[str, ...]
) -> None:
    err = refused(helm_bin, *sets, image=False)
    assert "image.repository is not set" in err
    assert "Dockerfile at the repo root" in err
    assert "docker push REGISTRY/champion:0.1.0" in err
    assert "--set image.repository=REGISTRY/champion" in err


def test_lint_strict_passes_with_and_without_the_image(helm_bin: str) -> None:
    for args in ([], ["--set", f"image.repository={IMAGE}"]):
        result = subprocess.run(
            [helm_bin, "lint", "--strict", str(CHART), *args], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("sets", "image"),
    [
        ((), f"{IMAGE}:0.1.0"),
        (("image.tag=0.2.0",), f"{IMAGE}:0.2.0"),
        (("image.digest=sha256:" + "a" * 64,), f"{IMAGE}:0.1.0@sha256:" + "a" * 64),
    ],
)
def test_the_image_is_the_one_set(helm_bin: str, sets: tuple[str, ...], image: str) -> None:
    container = pod_spec(render(helm_bin, *sets))["containers"][0]
    assert container["image"] == image
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CHAMPION_EVAL_IMAGE"] == image  # eval Jobs default to the operator image


def test_the_sandbox_install_names_an_image_it_never_pulls(
    helm_bin: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The sandbox's own `helm install` arguments render (replicas 0: no pod, no pull)."""
    from champion.sandbox import install

    calls: list[list[str]] = []

    def run(args: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        calls.append(list(args))
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(install, "kubectl", lambda *a, **k: "")
    monkeypatch.setattr(install, "wait_established", lambda *a, **k: None)
    monkeypatch.setattr(install, "third_party_crds", lambda: [])
    monkeypatch.setattr(install, "subprocess", SimpleNamespace(run=run))
    install.install(tmp_path / "admin", 1, "http://127.0.0.1:9090", ["demo"])
    (helm,) = [c for c in calls if "install" in c]
    sets = [helm[i + 1] for i, a in enumerate(helm) if a == "--set"]
    assert "replicas=0" in sets and "image.repository=local/champion-not-pulled" in sets
    docs = render(helm_bin, *sets, release=install.RELEASE, image=False)
    dep = one(docs, "Deployment")
    assert dep["spec"]["replicas"] == 0
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"].startswith(
        "local/champion-not-pulled:"
    )


# --- what platform teams set --------------------------------------------------------------

PLATFORM: dict[str, Any] = {
    "imagePullSecrets": [{"name": "regcred"}],
    "serviceAccount": {
        "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/champion"}
    },
    "priorityClassName": "platform-critical",
    "podAnnotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},
    "podLabels": {"team": "ml-platform", "cost-center": "42"},
    "nodeSelector": {"kubernetes.io/os": "linux", "node-role.example.com/system": "true"},
    "tolerations": [
        {"key": "dedicated", "operator": "Equal", "value": "system", "effect": "NoSchedule"}
    ],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}
                        ]
                    }
                ]
            }
        }
    },
    "topologySpreadConstraints": [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
        },
        {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"team": "ml-platform"}},
        },
    ],
    "extraEnv": [
        {"name": "HTTPS_PROXY", "value": "http://proxy.corp:3128"},
        {"name": "NO_PROXY", "value": ".svc,.cluster.local"},
        {
            "name": "CHAMPION_LLM_JUDGE_API_KEY",
            "valueFrom": {"secretKeyRef": {"name": "judge", "key": "key"}},
        },
    ],
    "podSecurityContext": {"runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001},
    "securityContext": {"runAsUser": 10001},
    "resources": {"requests": {"cpu": "250m", "memory": "384Mi"}, "limits": {"memory": "1Gi"}},
}


def test_platform_values_land_where_kubernetes_reads_them(helm_bin: str, tmp_path: Path) -> None:
    docs = render(helm_bin, release="champion", values=PLATFORM, tmp=tmp_path)
    dep = one(docs, "Deployment")
    template = dep["spec"]["template"]
    pod = template["spec"]
    container = pod["containers"][0]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["priorityClassName"] == "platform-critical"
    assert template["metadata"]["annotations"] == PLATFORM["podAnnotations"]
    # Pod labels are added; the selector (and the pod's selector labels) stay the chart's.
    selector = {"app.kubernetes.io/name": "champion", "app.kubernetes.io/instance": "champion"}
    assert dep["spec"]["selector"]["matchLabels"] == selector
    assert template["metadata"]["labels"] == {**selector, **PLATFORM["podLabels"]}
    assert pod["nodeSelector"] == PLATFORM["nodeSelector"]
    assert pod["tolerations"] == PLATFORM["tolerations"]
    assert pod["affinity"] == PLATFORM["affinity"]
    zone, host = pod["topologySpreadConstraints"]
    assert zone == {
        **PLATFORM["topologySpreadConstraints"][0],
        "labelSelector": {"matchLabels": selector},
    }
    assert host == PLATFORM["topologySpreadConstraints"][1]  # its own labelSelector is kept
    # extraEnv comes after the chart's own variables, as given (value and valueFrom).
    env = container["env"]
    assert [e["name"] for e in env[:4]] == [
        "CHAMPION_LOG_FORMAT", "CHAMPION_LOG_LEVEL", "CHAMPION_EVAL_IMAGE", "CHAMPION_EVAL_SERVICE_ACCOUNT",
    ]  # fmt: skip
    assert env[4:] == PLATFORM["extraEnv"]
    assert container["resources"] == PLATFORM["resources"]
    # Overrides merge into the locked-down defaults: what was not overridden stays.
    assert pod["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }  # fmt: skip
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
        "runAsUser": 10001, "capabilities": {"drop": ["ALL"]},
    }  # fmt: skip
    # IRSA / Workload Identity: the annotation is on the ServiceAccount the pod runs as.
    sa = one(docs, "ServiceAccount", "champion")
    assert sa["metadata"]["annotations"] == PLATFORM["serviceAccount"]["annotations"]
    assert pod["serviceAccountName"] == "champion"


def test_eval_jobs_pull_with_their_service_accounts_secrets(helm_bin: str) -> None:
    docs = render(
        helm_bin, "evalJobs.namespaces={team-a,team-b}", "evalJobs.imagePullSecrets[0].name=regcred"
    )
    accounts = [
        d
        for d in docs
        if d["kind"] == "ServiceAccount" and d["metadata"]["name"] == "champion-eval"
    ]
    assert {d["metadata"]["namespace"] for d in accounts} == {"team-a", "team-b"}
    assert all(d["imagePullSecrets"] == [{"name": "regcred"}] for d in accounts)
    assert "imagePullSecrets" not in pod_spec(docs)  # the operator's are its own value


def test_the_defaults_stay_locked_down(helm_bin: str) -> None:
    pod = pod_spec(render(helm_bin))
    assert pod["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }  # fmt: skip
    container = pod["containers"][0]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }  # fmt: skip
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"memory": "512Mi"},
    }
    for key in ("imagePullSecrets", "priorityClassName", "nodeSelector", "tolerations",
                "affinity", "topologySpreadConstraints"):  # fmt: skip
        assert key not in pod
    assert len(container["env"]) == 4


def test_a_security_context_key_can_be_removed_with_null(helm_bin: str, tmp_path: Path) -> None:
    values = {"podSecurityContext": {"fsGroup": None}}
    pod = pod_spec(render(helm_bin, values=values, tmp=tmp_path))
    assert "fsGroup" not in pod["securityContext"] and pod["securityContext"]["runAsUser"] == 65532


def _subjects(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        s
        for d in docs
        if d["kind"] in ("ClusterRoleBinding", "RoleBinding")
        and d["roleRef"]["name"] != "champion-eval"
        for s in d["subjects"]
    ]


def test_an_existing_service_account_is_used_and_none_is_created(helm_bin: str) -> None:
    docs = render(
        helm_bin, "serviceAccount.create=false", "serviceAccount.name=platform-champion",
        "watchNamespaces={team-a}",
    )  # fmt: skip
    assert not [
        d for d in docs if d["kind"] == "ServiceAccount" and d["metadata"]["namespace"] == NAMESPACE
    ]
    assert pod_spec(docs)["serviceAccountName"] == "platform-champion"
    subjects = _subjects(docs)
    # The ClusterRoleBinding, team-a's and the release namespace's RoleBinding.
    assert len(subjects) == 3
    assert all(
        s == {"kind": "ServiceAccount", "name": "platform-champion", "namespace": NAMESPACE}
        for s in subjects
    )


def test_a_named_service_account_is_created_under_that_name(helm_bin: str) -> None:
    docs = render(helm_bin, "serviceAccount.name=champion-operator")
    assert one(docs, "ServiceAccount", "champion-operator")["metadata"]["namespace"] == NAMESPACE
    assert pod_spec(docs)["serviceAccountName"] == "champion-operator"
    assert [s["name"] for s in _subjects(docs)] == ["champion-operator"]


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (("serviceAccount.create=false",), "at '/serviceAccount/name'"),
        (("imagePullSecrets=regcred",), "at '/imagePullSecrets': got string, want array"),
        (("extraEnv[0].value=x",), "at '/extraEnv/0': missing property 'name'"),
        (("extraEnv[0].name=CHAMPION_NAMESPACES", "extraEnv[0].value=a"), "at '/extraEnv/0/name'"),
        (("tolerations[0].operator=Maybe",), "at '/tolerations/0/operator'"),
        (("securityContext.runAsUser=-1",), "at '/securityContext/runAsUser'"),
        (("podSecurityContext.runAsUsr=1",), "at '/podSecurityContext': additional properties 'runAsUsr'"),
        (("resources.limits.memory=lots",), "at '/resources/limits/memory'"),
        (("topologySpreadConstraints[0].maxSkew=1",), "at '/topologySpreadConstraints/0': missing properties"),
        (("priorityClassName=Not_A_Name",), "at '/priorityClassName'"),
        (("podLabels.app\\.kubernetes\\.io/name=other",), "at '/podLabels/app.kubernetes.io~1name'"),
        (("image.repository=registry.example.com/champion:1.0",), "at '/image/repository'"),
        (("nodeSelectr.a=b",), "additional properties 'nodeSelectr' not allowed"),
    ],
)  # fmt: skip
def test_bad_values_are_refused_naming_the_field(
    helm_bin: str, sets: tuple[str, ...], message: str
) -> None:
    err = refused(helm_bin, *sets)
    assert "values don't meet the specifications of the schema" in err and message in err, err


# --- names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("release", "fullname"), [("champion", "champion"), ("prod", "prod-champion")]
)
def test_objects_have_the_conventional_full_name(
    helm_bin: str, release: str, fullname: str
) -> None:
    docs = render(
        helm_bin, "replicas=2", "watchNamespaces={team-a}", "metrics.serviceMonitor.enabled=true",
        "metrics.prometheusRule.enabled=true", release=release,
    )  # fmt: skip
    own = [d for d in docs if d["kind"] != "CustomResourceDefinition"
           and d["metadata"]["name"] != "champion-eval"]  # fmt: skip
    names = {(d["kind"], d["metadata"]["name"]) for d in own}
    assert names == {
        ("Deployment", fullname), ("ServiceAccount", fullname), ("Service", f"{fullname}-metrics"),
        ("ClusterRole", fullname), ("ClusterRoleBinding", fullname), ("Role", fullname),
        ("RoleBinding", fullname), ("PodDisruptionBudget", fullname), ("ServiceMonitor", fullname),
        ("PrometheusRule", fullname),
    }  # fmt: skip
    args = pod_spec(docs)["containers"][0]["args"]
    assert f"--peering={fullname}" in args
    assert pod_spec(docs)["serviceAccountName"] == fullname


# --- RBAC ---------------------------------------------------------------------------------

# The ClusterRole as it was before watchNamespaces had its Roles (c8e1a89): the default
# (whole-cluster) install must grant exactly this; an e2e test holds the real authorizer to it.
CLUSTER_WIDE_RULES = [
    ("champion.dev", ["modelversions", "gpupools", "rollouts", "evalsuites"], ["get", "list", "watch", "patch"]),
    ("champion.dev", ["modelversions/status", "gpupools/status", "rollouts/status", "evalsuites/status"], ["get", "patch", "update"]),
    ("apps", ["deployments"], ["get", "list", "watch", "create", "patch", "delete"]),
    ("", ["services"], ["get", "list", "watch", "create", "patch", "delete"]),
    ("serving.kserve.io", ["inferenceservices"], ["get", "list", "watch", "create", "patch", "delete"]),
    ("gateway.networking.k8s.io", ["httproutes"], ["get", "list", "watch", "create", "patch", "delete"]),
    ("batch", ["jobs"], ["get", "create", "patch"]),
    ("", ["nodes", "pods"], ["get", "list", "watch"]),
    ("", ["configmaps"], ["get", "list", "watch", "create", "patch"]),
    ("", ["secrets"], ["get"]),
    ("", ["serviceaccounts"], ["get"]),
    ("", ["events"], ["create", "patch"]),
    ("events.k8s.io", ["events"], ["create", "patch"]),
    ("apiextensions.k8s.io", ["customresourcedefinitions"], ["get", "list", "watch"]),
    ("", ["namespaces"], ["get", "list", "watch"]),
]  # fmt: skip
PEERING = (
    "kopf.dev",
    ["clusterkopfpeerings", "kopfpeerings"],
    ["get", "list", "watch", "patch", "create"],
)
# Kinds only a ClusterRole can grant, or reads that must span the cluster.
CLUSTER_SCOPED = {
    ("champion.dev", "gpupools"), ("champion.dev", "gpupools/status"), ("", "nodes"), ("", "pods"),
    ("", "namespaces"), ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("kopf.dev", "clusterkopfpeerings"), ("kopf.dev", "kopfpeerings"),
}  # fmt: skip
WRITES = {"create", "patch", "update", "delete"}

Grant = tuple[str, str, str]


def grants(rules: list[Any]) -> set[Grant]:
    out: set[Grant] = set()
    for rule in rules:
        if isinstance(rule, tuple):
            rule = {"apiGroups": [rule[0]], "resources": rule[1], "verbs": rule[2]}
        out |= {
            (g, r, v) for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]
        }
    return out


def operator_roles(docs: list[dict[str, Any]], fullname: str) -> dict[str, set[Grant]]:
    """Per namespace, what the operator's Roles grant it there (RoleBindings checked)."""
    roles = {
        d["metadata"]["namespace"]: grants(d["rules"])
        for d in docs
        if d["kind"] == "Role" and d["metadata"]["name"] == fullname
    }
    bound = {
        d["metadata"]["namespace"]
        for d in docs
        if d["kind"] == "RoleBinding"
        and d["roleRef"]
        == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": fullname}
        and d["subjects"] == [{"kind": "ServiceAccount", "name": fullname, "namespace": NAMESPACE}]
    }
    assert bound == set(roles)
    return roles


@pytest.mark.parametrize("replicas", [1, 2])
def test_watching_the_cluster_grants_exactly_the_cluster_role_as_before(
    helm_bin: str, replicas: int
) -> None:
    docs = render(
        helm_bin, f"replicas={replicas}", "evalJobs.namespaces={team-a}", release="champion"
    )
    want = grants(CLUSTER_WIDE_RULES + ([PEERING] if replicas > 1 else []))
    assert grants(one(docs, "ClusterRole", "champion")["rules"]) == want
    binding = one(docs, "ClusterRoleBinding", "champion")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "champion", "namespace": NAMESPACE}
    ]
    assert operator_roles(docs, "champion") == {}  # no Roles for the operator


@pytest.mark.parametrize("replicas", [1, 2])
def test_watching_namespaces_grants_writes_by_a_role_in_each(helm_bin: str, replicas: int) -> None:
    docs = render(
        helm_bin, f"replicas={replicas}", "watchNamespaces={team-a,team-b}", release="champion"
    )
    cluster = grants(one(docs, "ClusterRole", "champion")["rules"])
    # The ClusterRole keeps cluster-scoped kinds and the cluster-wide reads, nothing namespaced.
    assert {(g, r) for g, r, _ in cluster} <= CLUSTER_SCOPED
    assert {(g, r) for g, r, v in cluster if v in WRITES} <= {
        ("champion.dev", "gpupools"), ("champion.dev", "gpupools/status"),
        ("kopf.dev", "clusterkopfpeerings"), ("kopf.dev", "kopfpeerings"),
    }  # fmt: skip
    assert ("", "secrets", "get") not in cluster and ("", "configmaps", "list") not in cluster
    roles = operator_roles(docs, "champion")
    assert set(roles) == {"team-a", "team-b", NAMESPACE}
    want = grants(CLUSTER_WIDE_RULES + ([PEERING] if replicas > 1 else []))
    for ns in ("team-a", "team-b"):
        # In a watched namespace the operator may do all it could watching the whole cluster.
        assert cluster | roles[ns] == want
        assert {(g, r) for g, r, _ in roles[ns]} & CLUSTER_SCOPED == set()
        for resource in ("deployments", "services", "httproutes", "inferenceservices"):
            assert any(r == resource and v == "create" for _, r, v in roles[ns])
        assert ("champion.dev", "rollouts/status", "patch") in roles[ns]
        assert ("batch", "jobs", "create") in roles[ns] and ("", "events", "create") in roles[ns]
    # Events about the cluster-scoped GPUPools go to the operator's own namespace: Events only.
    assert roles[NAMESPACE] == grants([r for r in CLUSTER_WIDE_RULES if r[1] == ["events"]])


def test_the_release_namespace_watched_gets_one_role(helm_bin: str) -> None:
    docs = render(helm_bin, f"watchNamespaces={{{NAMESPACE},team-a}}", release="champion")
    roles = operator_roles(docs, "champion")
    assert set(roles) == {NAMESPACE, "team-a"} and roles[NAMESPACE] == roles["team-a"]


def test_every_rbac_rule_says_why() -> None:
    lines = (CHART / "templates" / "rbac.yaml").read_text().splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("- apiGroups:"):
            above = [x.strip() for x in lines[max(0, i - 4) : i]]
            assert any(x.startswith("#") for x in above), f"rbac.yaml:{i + 1} has no comment"


# --- alerts -------------------------------------------------------------------------------


def rule_file(helm: str, tmp: Path, release: str = "champion") -> Path:
    docs = render(
        helm, "metrics.serviceMonitor.enabled=true", "metrics.prometheusRule.enabled=true",
        release=release,
    )  # fmt: skip
    rule = one(docs, "PrometheusRule")
    path = tmp / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    return path


def test_the_alert_rules_pass_promtool(helm_bin: str, promtool_bin: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [promtool_bin, "check", "rules", str(rule_file(helm_bin, tmp_path))],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 3 rules found" in result.stdout


def test_the_alerts_select_the_charts_own_job(helm_bin: str, tmp_path: Path) -> None:
    docs = render(
        helm_bin, "metrics.serviceMonitor.enabled=true", "metrics.prometheusRule.enabled=true",
        release="prod",
    )  # fmt: skip
    # Prometheus Operator names a ServiceMonitor target's job after the Service.
    service = one(docs, "Service")
    monitor = one(docs, "ServiceMonitor")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True  # keeps the Rollout's namespace
    rules = {r["alert"]: r for r in one(docs, "PrometheusRule")["spec"]["groups"][0]["rules"]}
    up = f'up{{job="{service["metadata"]["name"]}", namespace="{NAMESPACE}"}}'
    assert (
        rules["ChampionOperatorDown"]["expr"]
        == f"max by (job, namespace) ({up}) == 0 or absent({up})"
    )
    assert "=~" not in rules["ChampionOperatorDown"]["expr"]  # exact job, not any job named like it
    assert rules["ChampionRolloutRolledBack"]["for"] == "1m"
    assert "6h" in rules["ChampionRolloutRolledBack"]["annotations"]["description"]


def test_prometheus_rule_needs_the_service_monitor(helm_bin: str) -> None:
    err = refused(helm_bin, "metrics.prometheusRule.enabled=true")
    assert "metrics.serviceMonitor.enabled=true" in err


def test_operator_down_is_not_rendered_for_an_operator_run_elsewhere(helm_bin: str) -> None:
    docs = render(
        helm_bin, "replicas=0", "metrics.serviceMonitor.enabled=true",
        "metrics.prometheusRule.enabled=true",
    )  # fmt: skip
    alerts = [r["alert"] for r in one(docs, "PrometheusRule")["spec"]["groups"][0]["rules"]]
    assert "ChampionOperatorDown" not in alerts


def _phase(job: str, pod: str, values: str) -> dict[str, str]:
    labels = f'job="{job}", namespace="demo", rollout="chat", phase="RolledBack", pod="{pod}"'
    return {"series": f"champion_rollout_phase{{{labels}}}", "values": values}


def test_the_alerts_fire_and_stop_as_described(
    helm_bin: str, promtool_bin: str, tmp_path: Path
) -> None:
    """promtool's rule unit tests on the rendered rules (1m samples)."""
    rules = rule_file(helm_bin, tmp_path)
    rolled_back = {
        "alertname": "ChampionRolloutRolledBack", "severity": "warning",
        "namespace": "demo", "rollout": "chat",
    }  # fmt: skip
    rendered = yaml.safe_load(rules.read_text())["groups"][0]["rules"][0]["annotations"]
    rolled_back_annotations = {
        "summary": "Rollout demo/chat was rolled back: see kubectl describe rollouts.champion.dev chat -n demo",
        "description": rendered["description"],
    }
    down = {"alertname": "ChampionOperatorDown", "severity": "critical",
            "job": "champion-metrics", "namespace": NAMESPACE}  # fmt: skip
    down_annotations = {
        "summary": "The Champion operator is not running: rollouts are frozen where they are",
        "description": f"No target of job champion-metrics in namespace {NAMESPACE} (the chart's ServiceMonitor) has been up for 5m.",
    }

    def alerts(
        t: str, name: str, expected: list[dict[str, str]], annotations: dict[str, str]
    ) -> dict[str, Any]:
        return {"eval_time": t, "alertname": name,
                "exp_alerts": [{"exp_labels": e, "exp_annotations": annotations} for e in expected]}  # fmt: skip

    tests = [
        {   # Rolled back at 10m; the operator restarts at 70m (new pod, its series starts at 1).
            "interval": "1m",
            "input_series": [
                _phase("champion-metrics", "a", "0x10 1x60 stale"),
                _phase("champion-metrics", "b", "_x72 1x400"),
                # Another install's (or any other) job: never alerted on by this release.
                _phase("champion-other", "x", "0x10 1x400"),
                {"series": f'up{{job="champion-metrics", namespace="{NAMESPACE}", pod="a"}}', "values": "1x480"},
            ],
            "alert_rule_test": [
                alerts("10m", "ChampionRolloutRolledBack", [], rolled_back_annotations),
                alerts("12m", "ChampionRolloutRolledBack", [rolled_back], rolled_back_annotations),
                alerts("90m", "ChampionRolloutRolledBack", [rolled_back], rolled_back_annotations),
                alerts("6h", "ChampionRolloutRolledBack", [rolled_back], rolled_back_annotations),
                # 6h after the rollback (and 1m of subquery step): resolved, still RolledBack.
                alerts("6h12m", "ChampionRolloutRolledBack", [], rolled_back_annotations),
                alerts("7h", "ChampionRolloutRolledBack", [], rolled_back_annotations),
                alerts("7h", "ChampionOperatorDown", [], down_annotations),
            ],
        },
        {   # A retry changes the phase: the alert ends at once.
            "interval": "1m",
            "input_series": [_phase("champion-metrics", "a", "0x10 1x20 0x30")],
            "alert_rule_test": [
                alerts("25m", "ChampionRolloutRolledBack", [rolled_back], rolled_back_annotations),
                alerts("35m", "ChampionRolloutRolledBack", [], rolled_back_annotations),
            ],
        },
        {   # Our operator is gone; a job with "champion" in its name is up: still down.
            "interval": "1m",
            "input_series": [
                {"series": f'up{{job="champion-metrics", namespace="{NAMESPACE}", pod="a"}}', "values": "1x5 0x20"},
                {"series": 'up{job="champion-dashboard", namespace="monitoring"}', "values": "1x30"},
                {"series": 'up{job="champion-metrics", namespace="other-ns"}', "values": "1x30"},
            ],
            "alert_rule_test": [
                alerts("8m", "ChampionOperatorDown", [], down_annotations),
                alerts("12m", "ChampionOperatorDown", [down], down_annotations),
            ],
        },
        {   # No target at all (the Service has no endpoints, or scraping stopped): down.
            "interval": "1m",
            "input_series": [
                {"series": 'up{job="champion-dashboard", namespace="monitoring"}', "values": "1x30"},
            ],
            "alert_rule_test": [
                alerts("4m", "ChampionOperatorDown", [], down_annotations),
                alerts("6m", "ChampionOperatorDown", [down], down_annotations),
            ],
        },
    ]  # fmt: skip
    spec = tmp_path / "tests.yaml"
    spec.write_text(
        yaml.safe_dump({"rule_files": [str(rules)], "evaluation_interval": "1m", "tests": tests})
    )
    result = subprocess.run(
        [promtool_bin, "test", "rules", str(spec)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- watchNamespaces against what really runs -----------------------------------------------


def scoped_attributes(method: str, path: str, query: str) -> tuple[str | None, Grant] | None:
    """(namespace or None, (apiGroup, resource[/subresource], verb)) as the authorizer sees the
    request: a namespaced request may be granted by a Role in its namespace, any other only by
    the ClusterRole. None for discovery (non-resource URLs)."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return None
    if not rest:
        return None
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else None
    if len(rest) > 2:
        resource = f"{resource}/{rest[2]}"
    watch = parse_qs(query).get("watch", [""])[0] in ("true", "1")
    verb = {
        "GET": "get" if name else ("watch" if watch else "list"),
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if name else "deletecollection",
    }[method]
    return namespace, (group, resource, verb)


def _demo(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "demo" / name).read_text())
    return doc


@pytest.mark.slow
async def test_watching_a_namespace_every_request_is_granted_where_it_is_made(
    apiserver: Any, tmp_path: Path, helm_bin: str
) -> None:
    """The operator watching `demo` (as `--namespace=demo` from watchNamespaces) takes a gated
    rollout to the end; each of its requests is allowed by the ClusterRole or, in its own
    namespace, by that namespace's Role. The default namespace is the release's, as in a pod."""
    from champion.adapters.kube import connect, resource_for
    from champion.handlers.run import run_operator
    from champion.reconcile.settings import OperatorSettings
    from tests.emulator.cluster import ClusterStandIn, sandbox_nodes
    from tests.emulator.jobs import JobRunner
    from tests.helpers import eventually

    docs = render(helm_bin, "watchNamespaces={demo}", release="champion")
    cluster_rules = one(docs, "ClusterRole", "champion")["rules"]
    roles = {
        d["metadata"]["namespace"]: d["rules"]
        for d in docs
        if d["kind"] == "Role" and d["metadata"]["name"] == "champion"
    }
    rollout_kind = resource_for("champion.dev/v1alpha1", "Rollout")
    for node in sandbox_nodes(1):
        apiserver.seed(node)
    for name in ("00-namespace.yaml", "10-gpupool.yaml", "21-modelversion-v1.yaml",
                 "22-modelversion-v2.yaml", "30-evalsuite.yaml"):  # fmt: skip
        apiserver.seed(_demo(name))
    apiserver.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    rollout = _demo("40-rollout.yaml")
    rollout["spec"]["analysis"]["metrics"] = []
    rollout["spec"]["strategy"]["shadow"]["durationSeconds"] = 1
    for step in rollout["spec"]["strategy"]["canary"]["steps"]:
        step["durationSeconds"] = 1
    apiserver.seed(rollout)
    apiserver.seed(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "champion-eval", "namespace": "demo"},
        }
    )  # the chart makes it in evalJobs.namespaces
    apiserver.write_kubeconfig(tmp_path / "kubeconfig", namespace=NAMESPACE)
    cluster, jobs = ClusterStandIn(apiserver, prometheus=None), JobRunner(apiserver, tmp_path)
    stop_controllers = asyncio.Event()

    async def controllers() -> None:
        while not stop_controllers.is_set():
            await cluster.reconcile()
            jobs.reconcile()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_controllers.wait(), 0.2)

    controllers_task = asyncio.create_task(controllers())
    settings = OperatorSettings(
        kubeconfig=str(apiserver.kubeconfig), metrics_port=None, namespaces=("demo",),
        rollout_tick_seconds=0.3, gpupool_tick_seconds=1, modelversion_tick_seconds=1,
    )  # fmt: skip
    stop, ready = asyncio.Event(), asyncio.Event()
    operator = asyncio.create_task(run_operator(settings, stop_flag=stop, ready_flag=ready))
    api = await connect(str(apiserver.kubeconfig), user_agent="the-test")

    async def phase(champion: str) -> dict[str, Any] | None:
        st = ((await api.get(rollout_kind, "chat", "demo")) or {}).get("status") or {}
        return st if st.get("phase") == "Succeeded" and st.get("champion") == champion else None

    try:
        await asyncio.wait_for(ready.wait(), 20)
        await eventually(lambda: phase("chat-v1"), timeout=60, what="chat-v1 to serve")
        await api.patch(rollout_kind, "chat", {"spec": {"modelVersion": "chat-v2"}}, "demo")
        await eventually(lambda: phase("chat-v2"), timeout=90, what="chat-v2 promoted")
    finally:
        await api.close()
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(operator, 20)
        stop_controllers.set()
        await controllers_task
        await cluster.close()
        jobs.close()

    seen: set[tuple[str | None, Grant]] = set()
    for req in apiserver.request_log:
        if req.agent.startswith(("champion-operator", "kopf/")):
            attrs = scoped_attributes(req.method, req.path, req.query)
            if attrs is not None:
                seen.add(attrs)
    granted_cluster = grants(cluster_rules)
    denied = sorted(
        (ns or "", g)
        for ns, g in seen
        if g not in granted_cluster and (ns is None or g not in grants(roles.get(ns, [])))
    )
    assert denied == [], denied
    # The split is exercised: these were granted by demo's Role, not by the ClusterRole.
    by_role = {g for ns, g in seen if ns == "demo" and g not in granted_cluster}
    assert {("apps", "deployments", "create"), ("champion.dev", "rollouts/status", "patch"),
            ("batch", "jobs", "create")} <= by_role, sorted(by_role)  # fmt: skip
