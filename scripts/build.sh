#!/usr/bin/env bash
# Builds crib: the static pause and crib-io binaries, the CRI proto types, and the TypeScript.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-pause.sh
bash scripts/build-helpers.sh
bash scripts/gen-proto-types.sh
rm -rf dist # no stale output of moved or deleted files
node_modules/.bin/tsc -p tsconfig.json
bash scripts/bundle-cli.sh
echo "crib: built dist/, build/pause and build/crib-io"
