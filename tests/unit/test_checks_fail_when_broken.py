"""The CI checks are only worth something if they fail: break things on a copy and watch them fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "repo"
    for part in ("operator", "hack", "crds", "charts", "pyproject.toml"):
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dest / part)
    return dest


def _env(repo: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(repo / "operator")}


def test_crd_drift_check_passes_on_a_clean_tree(repo_copy: Path) -> None:
    result = subprocess.run(
        [sys.executable, "hack/gen_crds.py", "--check"], cwd=repo_copy, env=_env(repo_copy),
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_crd_drift_check_fails_when_a_crd_is_edited_by_hand(repo_copy: Path) -> None:
    crd = repo_copy / "crds" / "rollouts.yaml"
    crd.write_text(crd.read_text().replace("maximum: 100", "maximum: 1000", 1))
    result = subprocess.run(
        [sys.executable, "hack/gen_crds.py", "--check"], cwd=repo_copy, env=_env(repo_copy),
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 1
    assert "crds/rollouts.yaml is stale" in result.stderr


def test_crd_drift_check_fails_when_the_model_changes(repo_copy: Path) -> None:
    model = repo_copy / "operator" / "champion" / "api" / "v1alpha1" / "rollout.py"
    model.write_text(model.read_text().replace("le=100", "le=99", 1))
    result = subprocess.run(
        [sys.executable, "hack/gen_crds.py", "--check"], cwd=repo_copy, env=_env(repo_copy),
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 1, "a model change without regenerating must fail CI"


def test_import_linter_rejects_io_in_the_domain_layer(repo_copy: Path) -> None:
    bad = repo_copy / "operator" / "champion" / "domain" / "sneaky.py"
    bad.write_text("import kopf\n\nkopf.info\n")
    result = subprocess.run(
        [str(VENV_BIN / "lint-imports"), "--no-cache"], cwd=repo_copy, env=_env(repo_copy),
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0
    assert "champion.domain.sneaky -> kopf" in result.stdout


def test_import_linter_rejects_a_lower_layer_importing_a_higher_one(repo_copy: Path) -> None:
    bad = repo_copy / "operator" / "champion" / "domain" / "upward.py"
    bad.write_text("from champion.reconcile import status\n\nstatus\n")
    result = subprocess.run(
        [str(VENV_BIN / "lint-imports"), "--no-cache"], cwd=repo_copy, env=_env(repo_copy),
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0
    assert "BROKEN" in result.stdout


def test_mypy_rejects_an_untyped_function(repo_copy: Path) -> None:
    bad = repo_copy / "operator" / "champion" / "domain" / "untyped.py"
    bad.write_text("def f(x):\n    return x\n")
    result = subprocess.run(
        [str(VENV_BIN / "mypy"), str(bad)], cwd=repo_copy, env=_env(repo_copy),
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0
    assert "no-untyped-def" in result.stdout
