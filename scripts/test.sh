#!/usr/bin/env bash
# The whole test suite: installs and builds what it needs, then runs every test as root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Test files run one at a time: each starts real pods on its own bridge, but the machine has 2 cores.
exec node --test --test-concurrency=1 --test-timeout=600000 dist/test/*.test.js
