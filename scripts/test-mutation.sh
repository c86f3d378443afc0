#!/usr/bin/env bash
# Mutation testing of the unit tier (StrykerJS; stryker.config.js lists the suites): every suite, or
# the ones named. One at a time, one test process at a time (the machine has 2 cores). Incremental:
# a suite's next run re-tests only the mutants of code or tests that changed (.cache/stryker/).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/@stryker-mutator/core ] || npm ci --no-audit --no-fund --loglevel=error
[ -d src/cri/generated ] || bash scripts/gen-proto-types.sh
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(request-validation h2-bounds streaming-tokens tar-paths image-reference run-parsing cronjob-controller spec-builders pod-coordinator)
# The compiled tests as they are now: incremental mode compares them with the last run's.
node_modules/.bin/tsc -p tsconfig.json
mkdir -p .cache/stryker
for s in "${suites[@]}"; do
  echo "=== mutation testing: $s"
  STRYKER_SUITE=$s node_modules/.bin/stryker run stryker.config.js
done
