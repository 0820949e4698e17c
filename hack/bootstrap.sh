#!/usr/bin/env bash
# Creates .venv from the repo's own files (pyproject.toml + constraints.txt).
#   hack/bootstrap.sh demo   what `make demo` needs: the package alone (no torch, no dev tools)
#   hack/bootstrap.sh test   what `make test` needs: the dev tools and the `similarity` extra
# Idempotent: re-runs pip only when those files changed; prints each step and its time.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${1:-test}
case "$PROFILE" in
  demo) extras="" ;;
  test) extras="[dev,similarity]" ;;
  *) echo "bootstrap: unknown profile '$PROFILE' (demo or test)" >&2; exit 2 ;;
esac
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "  [setup] creating .venv with $("$PY" --version)…" >&2
  "$PY" -m venv .venv
fi
stamp=.venv/.champion-installed-$PROFILE
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  start=$SECONDS
  echo "  [setup] installing champion${extras} into .venv (first time only)…" >&2
  .venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
  .venv/bin/pip install -q -c constraints.txt -e ".${extras}"
  echo "$want" > "$stamp"
  echo "  [setup] installed in $((SECONDS - start)) s" >&2
fi
