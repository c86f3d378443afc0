#!/usr/bin/env bash
# Bundles the CLI for bin/crib's quick start (bin/quick-start.cjs): dist/src/cli/main.js and what it
# imports, except cribd's modules (crib daemon runs from dist/src), as one CommonJS file with V8's
# code cache of it. Packages stay in node_modules. Without esbuild (an install without dev
# dependencies) there is no bundle and bin/crib runs the modules.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/esbuild ]; then
  echo "crib: no esbuild in node_modules: the CLI runs unbundled"
  exit 0
fi
# import.meta.url becomes the bundle's own URL: it sits beside main.js, so paths computed from it hold.
node_modules/.bin/esbuild dist/src/cli/main.js --bundle --format=cjs --platform=node --target=node20 \
  --packages=external --external:./daemon-command.js --log-level=warning \
  --define:import.meta.url=__cribBundleUrl \
  "--banner:js=const __cribBundleUrl = require('node:url').pathToFileURL(__filename).href;" \
  --outfile=dist/src/cli/bundle.cjs
node -e "require('./bin/quick-start.cjs').writeCodeCache()"
echo "crib: bundled the CLI (dist/src/cli/bundle.cjs)"
