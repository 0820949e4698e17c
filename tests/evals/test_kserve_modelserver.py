"""`champion eval run` against a real KServe ModelServer (kserve 0.21.0) over REST v1 and v2.

The served model is `champion.sandbox.kserve_model`'s fixed-weight classifier;
the expected classes here are computed by hand from its documented scores
(setosa = 10 - 4*petal_length, versicolor = 0, virginica = 4*petal_width - 7).
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from champion.cli.main import app
from champion.sandbox.kserve_model import answered_wrong, default_seed
from champion.sandbox.kserve_process import ModelServerProcess

MODEL = "iris"
# Real KServe ModelServer processes (about 2 s each to start).
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(server: ModelServerProcess, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = server.exited()
        if code is not None:
            raise AssertionError(f"the ModelServer exited with code {code}")
        try:
            with urllib.request.urlopen(f"{server.url}/v2/health/ready", timeout=0.5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"the ModelServer was not ready within {timeout}s")


def model_server(tmp_path: Path, profile: dict[str, Any] | None = None) -> ModelServerProcess:
    server = ModelServerProcess(
        MODEL,
        "127.0.0.1",
        free_port(),
        json.dumps(profile) if profile else None,
        tmp_path / "modelserver.log",
    ).start()
    try:
        wait_ready(server)
    except AssertionError:
        server.stop()
        raise
    return server


@pytest.fixture(scope="module")
def champion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServerProcess]:
    server = model_server(tmp_path_factory.mktemp("champion"))
    yield server
    server.stop()


def expected_class(x: list[float]) -> int:
    _, _, petal_length, petal_width = x
    scores = [10 - 4 * petal_length, 0.0, 4 * petal_width - 7]
    return scores.index(max(scores))


def iris_like(n: int) -> list[list[float]]:
    """n inputs spread over the three classes, never within 0.1 of a decision boundary."""
    rows = []
    for i in range(n):
        petal_length = [1.2, 1.5, 1.9, 3.8, 4.5, 5.1, 5.6, 6.1][i % 8]
        petal_width = [0.2, 0.4, 1.0, 1.3, 1.5, 2.0, 2.3, 2.5][(i * 3) % 8]
        rows.append([5.0 + (i % 7) / 10, 3.0 + (i % 5) / 10, petal_length, petal_width])
    return rows


def v1_input(x: list[float]) -> dict[str, Any]:
    return {"instances": [x]}


def v2_input(x: list[float]) -> dict[str, Any]:
    return {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32", "data": x}]}


def suite(
    tmp_path: Path,
    rows: list[list[float]],
    protocol: str,
    scorers: list[dict[str, Any]],
    wrong_reference: frozenset[int] = frozenset(),
    **thresholds: Any,
) -> Path:
    make = v1_input if protocol == "kserve-v1" else v2_input
    cases = [
        {
            "id": f"x{i}",
            "input": make(x),
            "reference": str((expected_class(x) + (1 if i in wrong_reference else 0)) % 3),
            "tags": [["setosa", "versicolor", "virginica"][expected_class(x)]],
        }
        for i, x in enumerate(rows)
    ]
    doc = {
        "spec": {
            "protocol": protocol,
            "cases": {"inline": cases},
            "scorers": scorers,
            "thresholds": {"minScore": 0.9, **thresholds},
            "concurrency": 8,
            "timeoutSeconds": 5,
            "retries": 0,
        }
    }
    path = tmp_path / f"suite-{protocol}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


async def cli(*args: str) -> tuple[int, dict[str, Any]]:
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["eval", "run", "--model", MODEL, *args, "--format", "json"]
    )
    assert result.stdout.strip().startswith("{"), result.output
    return result.exit_code, json.loads(result.stdout)


async def against_champion(
    tmp_path: Path,
    champion: ModelServerProcess,
    profile: dict[str, Any],
    rows: list[list[float]],
    protocol: str,
    max_regression: float,
) -> tuple[int, dict[str, Any]]:
    """`champion eval run` of an exact-match suite on a challenger server started with this
    profile, compared with the champion; the challenger is stopped afterwards."""
    challenger = model_server(tmp_path, profile)
    try:
        path = suite(
            tmp_path, rows, protocol, [{"type": "exact"}], minScore=0.5,
            maxRegressionVsChampion=max_regression,
        )  # fmt: skip
        return await cli(
            "--suite", str(path), "--endpoint", challenger.url, "--baseline-endpoint", champion.url
        )
    finally:
        challenger.stop()


def predict_count(server: ModelServerProcess) -> float:
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=2) as r:
        text = r.read().decode()
    found = re.search(
        rf'^request_predict_seconds_count\{{model_name="{MODEL}"\}} (\S+)$', text, re.M
    )
    return float(found.group(1)) if found else 0.0


def test_the_hand_computed_classes_cover_all_three() -> None:
    classes = [expected_class(x) for x in iris_like(24)]
    assert {c: classes.count(c) for c in (0, 1, 2)} == {0: 9, 1: 9, 2: 6}


@pytest.mark.parametrize("protocol", ["kserve-v1", "kserve-v2"])
async def test_scores_match_the_models_known_outputs(
    champion: ModelServerProcess, tmp_path: Path, protocol: str
) -> None:
    rows = iris_like(24)
    before = predict_count(champion)
    path = suite(
        tmp_path,
        rows,
        protocol,
        [{"type": "exact"}, {"type": "numeric", "tolerance": 0.5}],
        wrong_reference=frozenset({5}),
    )
    code, out = await cli("--suite", str(path), "--endpoint", champion.url, "--protocol", protocol)
    assert code == 0, out
    assert out["errors"] == 0 and out["failing_cases"] == ["x5"]
    assert out["score"] == pytest.approx(23 / 24)
    by_id = {c["id"]: c for c in out["cases"]}
    assert by_id["x5"]["scores"] == {"exact": 0.0, "numeric": 0.0}
    assert all(c["scores"] == {"exact": 1.0, "numeric": 1.0} for i, c in by_id.items() if i != "x5")
    # x5 (petal length 5.1, width 2.5) is a virginica: its slice loses one case of six.
    assert out["slices"] == {"setosa": 1.0, "versicolor": 1.0, "virginica": round(5 / 6, 6)}
    # The server's own histogram saw every request: the metrics are KServe's, not simulated.
    assert predict_count(champion) - before == 24


async def test_a_batch_answer_is_the_list_of_classes(
    champion: ModelServerProcess, tmp_path: Path
) -> None:
    rows = [[5.1, 3.5, 1.4, 0.2], [6.0, 3.0, 4.7, 1.4], [6.3, 3.3, 6.0, 2.5]]
    doc = {
        "spec": {
            "protocol": "kserve-v1",
            "cases": {
                "inline": [{"id": "b", "input": {"instances": rows}, "reference": [0, 1, 2]}]
            },
            "scorers": [{"type": "exact"}],
            "thresholds": {"minScore": 1.0},
        }
    }
    path = tmp_path / "batch.yaml"
    path.write_text(yaml.safe_dump(doc))
    code, out = await cli("--suite", str(path), "--endpoint", champion.url)
    assert code == 0 and out["score"] == 1.0, out


async def test_ten_percent_wrong_challenger_fails_the_no_worse_than_champion_gate(
    champion: ModelServerProcess, tmp_path: Path
) -> None:
    rows = iris_like(100)
    # Which inputs the 90%-accurate variant gets wrong depends only on its seed and the input.
    wrong = [
        i
        for i, x in enumerate(rows)
        if answered_wrong(default_seed(MODEL), 0.9, np.array(x, dtype=np.float32))
    ]
    assert 5 <= len(wrong) <= 20
    code, out = await against_champion(
        tmp_path, champion, {"evalAccuracy": 0.9}, rows, "kserve-v2", 0.02
    )
    assert code == 1, out
    assert out["failing_cases"] == [f"x{i}" for i in wrong]
    cmp = out["comparison"]
    assert (cmp["wins"], cmp["losses"], cmp["ties"]) == (0, len(wrong), 100 - len(wrong))
    # Every disagreement is a loss: the one-sided sign test's p is 0.5 ** losses.
    assert cmp["p_value"] == pytest.approx(0.5 ** len(wrong))
    assert f"sign test p={cmp['p_value']:.3g}" in cmp["message"]
    assert any("worse than the champion" in r for r in out["reasons"])


async def test_a_challenger_that_fails_requests_loses_them_with_http_500(
    champion: ModelServerProcess, tmp_path: Path
) -> None:
    rows = iris_like(40)
    code, out = await against_champion(
        tmp_path, champion, {"errorRate": 0.3, "latencyScale": 2}, rows, "kserve-v1", 0.05
    )
    assert code == 1, out
    errored = {c["id"] for c in out["cases"] if c["error"]}
    assert errored and {c["error"] for c in out["cases"] if c["error"]} == {"HTTP 500"}
    assert set(out["failing_cases"]) == errored and out["errors"] == len(errored)
    cmp = out["comparison"]
    assert (cmp["wins"], cmp["losses"]) == (0, len(errored))
    assert cmp["p_value"] == pytest.approx(0.5 ** len(errored)) and cmp["p_value"] < 0.05
