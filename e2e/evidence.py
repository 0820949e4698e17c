"""A Rollout's decisions with their evidence, as a user reads them: `kubectl champion history`.

`.status.history` keeps only the last few decisions, without evidence; the rest is in the
Rollout's evidence ConfigMap, which the plugin reads."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from e2e.conftest import k


def decisions(
    env: dict[str, str], name: str = "chat", namespace: str = "demo"
) -> list[dict[str, Any]]:
    plugin_dir = str(Path(sys.executable).parent)  # kubectl-champion, installed with the package
    path = env.get("PATH", "")
    if plugin_dir not in path.split(os.pathsep):
        env = {**env, "PATH": os.pathsep.join([plugin_dir, path])}
    records: list[dict[str, Any]] = json.loads(
        k(env, "champion", "history", name, "-n", namespace, "-o", "json")
    )
    return records
