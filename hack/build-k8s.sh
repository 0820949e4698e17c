#!/usr/bin/env bash
# Builds the real control plane the sandbox runs (kube-apiserver,
# kube-controller-manager, kube-scheduler, etcd, kwok) from the pinned Go
# modules under hack/k8s/ into .tools/k8s/<version>/bin, once. A cold build
# takes about 12 minutes on 2 cores; later runs reuse the binaries, and a
# rebuild reuses Go's build cache.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
K8S_VERSION=v1.36.3
ETCD_VERSION=v3.6.8
KWOK_VERSION=v0.8.0
GATEWAY_API_VERSION=v1.4.1
# The newest KServe release the Go module proxy serves (the Python SDK here is 0.21).
KSERVE_VERSION=v0.20.0
ARGO_ROLLOUTS_VERSION=v1.8.3
OUT="$ROOT/.tools/k8s/$K8S_VERSION"
BIN="$OUT/bin"
mkdir -p "$BIN"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local

if ! command -v go >/dev/null; then
  echo "build-k8s: Go is not installed; the sandbox's control plane needs Go 1.26" >&2
  exit 1
fi

say() { printf '  [control plane] %s\n' "$*" >&2; }

build() { # build NAME MODULE_DIR PACKAGE LDFLAGS
  local name=$1 dir=$2 pkg=$3 ldflags=$4
  if [[ -x "$BIN/$name" ]]; then return; fi
  local start=$SECONDS
  say "building $name from $pkg (first time only; minutes on 2 cores)…"
  (cd "$ROOT/hack/k8s/$dir" && go build -trimpath -tags selinux,notest \
      -ldflags "-s -w $ldflags" -o "$BIN/$name.tmp" "$pkg")
  mv "$BIN/$name.tmp" "$BIN/$name"
  say "built $name in $((SECONDS - start)) s"
}

# Without the version in ldflags /version says v0.0.0-master and kubectl and
# helm refuse the server (DESIGN.md §7).
V=k8s.io/component-base/version
KV="-X $V.gitVersion=$K8S_VERSION -X $V.gitMajor=1 -X $V.gitMinor=36 -X $V.gitTreeState=clean -X $V.buildDate=2026-01-01T00:00:00Z"
KV="$KV -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=36"

build etcd etcd go.etcd.io/etcd/server/v3 ""
build kube-apiserver kubernetes k8s.io/kubernetes/cmd/kube-apiserver "$KV"
build kube-controller-manager kubernetes k8s.io/kubernetes/cmd/kube-controller-manager "$KV"
build kube-scheduler kubernetes k8s.io/kubernetes/cmd/kube-scheduler "$KV"
build kwok kwok sigs.k8s.io/kwok/cmd/kwok "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"

# KWOK's stages (node heartbeat, pod lifecycle; not pod-complete: the sandbox runs eval Job pods
# itself and reports their exit code), Gateway API's and KServe's CRDs ship inside their module
# zips: only the files the sandbox applies are copied out.
moddir() { (cd "$ROOT/hack/k8s/kwok" && go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'); }
if [[ ! -d "$OUT/kwok-stages" ]]; then
  kwok_dir=$(moddir "sigs.k8s.io/kwok@$KWOK_VERSION")
  rm -rf "$OUT/kwok-stages.tmp" && mkdir -p "$OUT/kwok-stages.tmp"
  cp "$kwok_dir"/kustomize/stage/node/fast/node-initialize.yaml \
     "$kwok_dir"/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
     "$kwok_dir"/kustomize/stage/pod/fast/pod-ready.yaml \
     "$kwok_dir"/kustomize/stage/pod/fast/pod-delete.yaml "$OUT/kwok-stages.tmp/"
  mv "$OUT/kwok-stages.tmp" "$OUT/kwok-stages"
fi
if [[ ! -d "$OUT/gateway-api-crds" ]]; then
  say "fetching Gateway API $GATEWAY_API_VERSION's CRDs from its Go module"
  gw_dir=$(moddir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")
  rm -rf "$OUT/gateway-api-crds.tmp" && mkdir -p "$OUT/gateway-api-crds.tmp"
  cp "$gw_dir"/config/crd/standard/gateway.networking.k8s.io_*.yaml "$OUT/gateway-api-crds.tmp/"
  mv "$OUT/gateway-api-crds.tmp" "$OUT/gateway-api-crds"
fi
if [[ ! -d "$OUT/kserve-crds" ]]; then
  say "fetching KServe $KSERVE_VERSION's InferenceService CRD from its Go module"
  ks_dir=$(moddir "github.com/kserve/kserve@$KSERVE_VERSION")
  rm -rf "$OUT/kserve-crds.tmp" && mkdir -p "$OUT/kserve-crds.tmp"
  cp "$ks_dir"/config/crd/full/serving.kserve.io_inferenceservices.yaml "$OUT/kserve-crds.tmp/"
  mv "$OUT/kserve-crds.tmp" "$OUT/kserve-crds"
fi
if [[ ! -d "$OUT/argo-rollouts-crds" ]]; then
  # Only for the test that runs the README's commands with Argo Rollouts' CRD installed beside ours.
  say "fetching Argo Rollouts $ARGO_ROLLOUTS_VERSION's Rollout CRD from its Go module"
  ar_dir=$(moddir "github.com/argoproj/argo-rollouts@$ARGO_ROLLOUTS_VERSION")
  rm -rf "$OUT/argo-rollouts-crds.tmp" && mkdir -p "$OUT/argo-rollouts-crds.tmp"
  cp "$ar_dir"/manifests/crds/rollout-crd.yaml "$OUT/argo-rollouts-crds.tmp/"
  mv "$OUT/argo-rollouts-crds.tmp" "$OUT/argo-rollouts-crds"
fi
echo "$OUT"
