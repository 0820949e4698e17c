"""The README's main command, end to end: v1 champion, v2 promoted, v3 rolled back, nothing left running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_demo_promotes_v2_and_rolls_back_v3(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "champion.cli", "demo", "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-2000:]
    assert "demo passed" in out
    assert "kube-apiserver v1.36.3 (real)" in out  # says which API server it ran on
    assert max(len(line) for line in out.splitlines()) > 80, "one line per event, not wrapped"
    assert "RolledBack" in out and "RegressionDetected" in out
    leftovers = subprocess.run(
        ["pgrep", "-f", f"champion.sandbox.supervisor --dir {tmp_path}"],
        capture_output=True,
        text=True,
    )
    assert leftovers.stdout.strip() == "", "the demo left its sandbox running"
