"""How clients reach a KServe version: the predictor Service's port and the model's name."""

from __future__ import annotations

from champion.builders.eval_job import EvalRunner, eval_job
from champion.builders.workloads import default_service_port, served_model_name, service_name
from champion.reconcile.rollout_observe import service_port
from tests.builders.test_workloads import OWNER, ctx


def test_a_kserve_version_is_reached_on_its_predictor_service_port_by_its_isvc_name() -> None:
    kserve = ctx("modelversion-predictive.yaml")
    assert service_name(kserve).endswith("-predictor")
    assert default_service_port(kserve) == 80  # KServe Standard mode, not serving.port
    assert served_model_name(kserve) == kserve.name
    # Once KServe has made the Service, its port is the truth (the sandbox's is 8080).
    assert service_port(kserve, {"spec": {"ports": [{"port": 8080}]}}) == 8080
    assert service_port(kserve, None) == 80


def test_a_deployment_version_keeps_its_serving_port_and_default_model() -> None:
    vllm = ctx("demo/21-modelversion-v1.yaml")
    assert default_service_port(vllm) == vllm.spec.serving.port
    assert served_model_name(vllm) is None


def test_the_eval_job_names_each_versions_model_for_kserve() -> None:
    job = eval_job(
        namespace="demo", rollout="churn", suite="s", version="churn-v8",
        endpoint="http://a:80", baseline_endpoint="http://b:80", runner=EvalRunner("champion:test"),
        timeout_seconds=60, owner=OWNER, model="churn-churn-v8", baseline_model="churn-churn-v7",
    )  # fmt: skip
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--model") + 1] == "churn-churn-v8"
    assert args[args.index("--baseline-model") + 1] == "churn-churn-v7"
