#!/usr/bin/env bash
# Creates .venv from the repo's own files (pyproject.toml + constraints.txt).
# Idempotent: re-runs pip only when those files changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.champion-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
  .venv/bin/pip install -q -c constraints.txt -e '.[dev,similarity]'
  echo "$want" > "$stamp"
fi
