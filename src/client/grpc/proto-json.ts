// Protobuf's canonical JSON mapping of the messages the CLI decodes (grpc/proto-codec.ts), as crictl
// prints them with `-o json|yaml` (jsonpb with EmitDefaults): lowerCamelCase names, enum value names,
// 64-bit integers as decimal strings, bytes as base64, every field present (an unset message as null,
// an empty list [] and map {}), fields in field-number order and map keys sorted. A script written
// against `crictl pods -o json` reads `crib pods -o json` the same (test/crictl-json.test.ts).
import type { Field, ProtoCodec } from './proto-codec.js';

/** protoc's json_name: each `_x` becomes `X` (`pod_sandbox_id` → `podSandboxId`, `uidMappings` stays). */
export function jsonName(protoName: string): string {
  return protoName.replace(/_+([a-zA-Z0-9]?)/g, (_m, c: string) => c.toUpperCase());
}

/** One decoded message (the codec's shape: proto field names, enum numbers) as its JSON mapping. */
export function toProtoJson(codec: ProtoCodec, type: string, value: Record<string, unknown> | null | undefined): Record<string, unknown> | null {
  if (value === null || value === undefined) return null;
  const out: Record<string, unknown> = {};
  for (const f of codec.fields(type)) {
    const v = value[f.name];
    if (f.mapKey) {
      const entries = Object.entries((v ?? {}) as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      out[jsonName(f.name)] = Object.fromEntries(entries.map(([k, e]) => [k, scalarOrMessage(codec, f, e)]));
    } else if (f.repeated) out[jsonName(f.name)] = ((v ?? []) as unknown[]).map((e) => scalarOrMessage(codec, f, e));
    else out[jsonName(f.name)] = scalarOrMessage(codec, f, v);
  }
  return out;
}

function scalarOrMessage(codec: ProtoCodec, f: Field, v: unknown): unknown {
  switch (f.kind) {
    case 'message':
      return toProtoJson(codec, f.ref as string, v as Record<string, unknown> | null);
    case 'enum': {
      const n = typeof v === 'number' ? v : 0;
      return codec.enumNames(f.ref as string).get(n) ?? n;
    }
    case 'int64':
    case 'uint64':
      return typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' ? String(v) : '0';
    case 'bytes':
      return Buffer.from((v ?? Buffer.alloc(0)) as Uint8Array).toString('base64');
    case 'string':
      return v ?? '';
    case 'bool':
      return v ?? false;
    default:
      return v ?? 0;
  }
}
