#!/usr/bin/env bash
# The main job: install and build crib, start cribd, run the web + sidecar Pod from plain
# Kubernetes YAML, show the pause container holding it together, and tear it down in order.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

export CRIB_SOCKET=${CRIB_SOCKET:-/run/crib/crib.sock}
crib() { node bin/crib "$@"; }
log=$(mktemp /tmp/cribd-demo.XXXXXX.log)
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "starting cribd (log: $log)"
node bin/crib daemon --socket "$CRIB_SOCKET" >"$log" 2>&1 &
cribd=$!
cleanup() {
  crib delete -f examples/web-sidecar.yaml >/dev/null 2>&1 || true
  kill "$cribd" 2>/dev/null && wait "$cribd" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do crib version >/dev/null 2>&1 && break; sleep 0.1; done
crib version

step "the example image, built offline from busybox-static and imported"
image_tar=$(mktemp /tmp/crib-examples.XXXXXX.tar)
bash scripts/build-example-image.sh "$image_tar"
crib image import "$image_tar"
rm -f "$image_tar"
crib images

step "crib run -d examples/web-sidecar.yaml"
crib run -d examples/web-sidecar.yaml

step "crib ps: the pod's containers, and the pause container that holds them together"
crib ps

step "crib tree web-sidecar: the namespaces, from the live system"
crib tree web-sidecar

step "the sidecar reached the web container over localhost"
for _ in $(seq 50); do crib logs sidecar 2>/dev/null | grep -q 'hello from the web container' && break; sleep 0.2; done
crib logs --tail 3 sidecar
crib logs sidecar | grep -q 'hello from the web container' && echo "OK: sidecar -> http://localhost:8080/ -> web"

step "teardown: preStop hooks, then containers newest first, then pause, then the network"
crib delete -f examples/web-sidecar.yaml
crib pods
