import path from 'node:path';
import { repoRoot } from '../util/paths.js';

export const criProtoFile = path.join(repoRoot, 'proto', 'runtime', 'v1', 'api.proto');
export const cribProtoFile = path.join(repoRoot, 'proto', 'crib', 'v1', 'images.proto');
/** Both protos as protobufjs JSON, written by scripts/gen-proto-types.sh at build time. */
export const protosJsonFile = path.join(repoRoot, 'src', 'cri', 'generated', 'protos.json');
