"""Fails when a generated file (CRDs, chart CRDs) differs from what the code generates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    gen = ROOT / "hack" / "gen_crds.py"
    if not gen.exists():
        return 0
    result = subprocess.run([sys.executable, str(gen), "--check"], cwd=ROOT)
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
