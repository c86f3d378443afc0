#!/usr/bin/env bash
# The unit tier: pure functions, parsers, fuzzers, the HTTP/2 shim on a socket in /tmp, and the core
# services' decisions through stand-ins. No root, no daemon, no pods; seconds, not minutes.
# `bash scripts/test.sh` runs these and the integration tests (real pods, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
# The streaming tests drive the real crictl; tests never read ../shared themselves, so point them at it here.
[ -n "${CRICTL:-}" ] || [ ! -x ../shared/cri-tools/bin/crictl ] || export CRICTL="$PWD/../shared/cri-tools/bin/crictl"
[ -d src/cri/generated ] || bash scripts/gen-proto-types.sh
rm -rf dist # no stale output of moved or deleted files
node_modules/.bin/tsc -p tsconfig.json
exec node --test --test-timeout=120000 dist/test/unit/*.test.js
