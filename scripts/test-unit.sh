#!/usr/bin/env bash
# The unit tier: pure functions, parsers, fuzzers, the HTTP/2 shim on a socket in /tmp, and the core
# services' decisions through stand-ins. No root, no daemon, no pods; seconds, not minutes.
# `bash scripts/test.sh` runs these and the integration tests (real pods, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
[ -d src/cri/generated ] || bash scripts/gen-proto-types.sh
rm -rf dist # no stale output of moved or deleted files
node_modules/.bin/tsc -p tsconfig.json
bash scripts/bundle-cli.sh # bin/crib as built, for the tests that run it
exec node --test --test-timeout=120000 dist/test/unit/*.test.js
