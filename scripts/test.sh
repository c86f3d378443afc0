#!/usr/bin/env bash
# The whole test suite: installs and builds what it needs, then runs every test as root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Lint (typescript-eslint's type-aware rules) and formatting, before anything runs.
node_modules/.bin/eslint .
node_modules/.bin/prettier --check . >/dev/null
# The streaming tests drive the real crictl (cri-tools v1.26, beside the checkout as the conformance
# script uses it); tests never read ../shared themselves, so CRICTL points them at it here.
[ -n "${CRICTL:-}" ] || [ ! -x ../shared/cri-tools/bin/crictl ] || export CRICTL="$PWD/../shared/cri-tools/bin/crictl"
# The unit tier first (no root; seconds), then the integration tests: one file at a time, as each
# starts real pods on its own bridge and the machine has 2 cores.
node --test --test-timeout=120000 dist/test/unit/*.test.js
# A test that needs a program this machine lacks (crictl: Debian does not package it) is skipped, and
# says why in one line after the summary; .ci/run sets CRIB_TEST_REQUIRE_TOOLS=1, where it fails instead.
skips=$(mktemp)
trap 'rm -f "$skips"' EXIT
status=0
CRIB_TEST_SKIPS=$skips node --test --test-concurrency=1 --test-timeout=600000 dist/test/*.test.js || status=$?
if [ -s "$skips" ]; then
  echo "!!! SKIPPED for want of a tool: $(sort -u "$skips" | paste -sd ';' | sed 's/;/; /g')"
fi
exit "$status"
