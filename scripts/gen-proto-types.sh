#!/usr/bin/env bash
# Generates TypeScript types for the CRI proto (src/cri/generated, not committed), with the
# options src/cri/proto.ts loads it with, and ES-module import suffixes; and the protos as JSON,
# which src/cri/proto.ts loads (parsing the .proto files at every start costs the CLI its speed).
set -euo pipefail
cd "$(dirname "$0")/.."
out=src/cri/generated
rm -rf "$out"
node_modules/.bin/proto-loader-gen-types --keepCase --longs=String --enums=Number --defaults --arrays --objects --oneofs \
  --grpcLib=@grpc/grpc-js --outDir="$out" proto/runtime/v1/api.proto proto/crib/v1/images.proto >/dev/null
find "$out" -name '*.ts' -exec sed -i -E "s#from '(\.\.?/[^']+)'#from '\1.js'#" {} +
# protobufjs JSON, parsed as proto-loader parses (keepCase), resolved so no import is left open.
node -e '
const protobuf = require("protobufjs");
const [out, ...files] = process.argv.slice(1);
const root = new protobuf.Root();
root.loadSync(files, { keepCase: true });
root.resolveAll();
require("fs").writeFileSync(out, JSON.stringify(root.toJSON()));
' "$out/protos.json" proto/runtime/v1/api.proto proto/crib/v1/images.proto
