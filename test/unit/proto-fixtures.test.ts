import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { criLoaderOptions, criProtoFile, criServices, cribProtoFile } from '../../src/cri/proto.js';
import { repoRoot } from '../../src/util/paths.js';

// Proves that crib's transcription of the CRI v1 proto decodes the bytes a real client (crictl 1.26,
// grpc-go, the official Go types) put on the wire, field for field.

const PKG = 'runtime.v1';
const wireDir = path.join(repoRoot, 'test', 'fixtures', 'cri-wire');
const requestsDir = path.join(wireDir, 'requests');
const IMAGE_SERVICE_FIXTURE = /^(pullimage|listimages|imagestatus)/;

// Shapes of the google.protobuf descriptor objects proto-loader exposes as `requestType.type` etc.
interface FieldDescriptor {
  name: string;
  number: number;
  label: string;
  type: string;
  typeName: string;
}

interface MessageDescriptor {
  name: string;
  field: FieldDescriptor[];
  nestedType: MessageDescriptor[];
  oneofDecl: { name: string }[];
  options: { mapEntry?: boolean } | null;
}

// The descriptors come from the .proto files themselves (proto-loader); the (de)serializers under
// test are the ones cribd serves with (criServices, from the JSON the build generates).
const def = protoLoader.loadSync([criProtoFile, cribProtoFile], criLoaderOptions);

function service(name: 'RuntimeService' | 'ImageService') {
  return criServices()[name === 'RuntimeService' ? 'runtime' : 'image'];
}

/** The method's request and response descriptors, from the .proto files. */
function described(name: 'RuntimeService' | 'ImageService', method: string): protoLoader.MethodDefinition<object, object> {
  const m = (def[`${PKG}.${name}`] as protoLoader.ServiceDefinition | undefined)?.[method];
  assert.ok(m, `${PKG}.${name}.${method} missing from the .proto files`);
  return m;
}

function messageType(name: string): protoLoader.MessageTypeDefinition<object, object> {
  const t = def[`${PKG}.${name}`] as protoLoader.MessageTypeDefinition<object, object> | undefined;
  assert.ok(t, `message ${PKG}.${name} missing from the package definition`);
  assert.equal(t.format, 'Protocol Buffer 3 DescriptorProto');
  return t;
}

function descriptorOf(t: protoLoader.MessageTypeDefinition<object, object>): MessageDescriptor {
  return t.type as MessageDescriptor;
}

function resolveMessage(typeName: string, scope: MessageDescriptor): MessageDescriptor {
  const bare = typeName.replace(/^\./, '');
  const nested = scope.nestedType.find((n) => n.name === bare);
  if (nested) return nested;
  const qualified = bare.startsWith(`${PKG}.`) ? bare : `${PKG}.${bare}`;
  const t = def[qualified] as protoLoader.MessageTypeDefinition<object, object> | undefined;
  assert.ok(t && t.format === 'Protocol Buffer 3 DescriptorProto', `cannot resolve message type ${typeName}`);
  return descriptorOf(t);
}

const INT64_TYPES = new Set(['TYPE_INT64', 'TYPE_UINT64', 'TYPE_SINT64', 'TYPE_FIXED64', 'TYPE_SFIXED64']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/**
 * One value of a field, as the proto3 JSON of the official Go types would show it: 64-bit integers as
 * decimal strings (the fixtures print them as JSON numbers, the decoder as strings), bytes as base64,
 * present sub-messages always kept (even when empty). Returns undefined for a zero scalar when
 * dropZero is set (a singular proto3 scalar at its zero value is not on the wire and not in the JSON).
 */
function normalizeValue(field: FieldDescriptor, v: unknown, scope: MessageDescriptor, dropZero: boolean, where: string): unknown {
  switch (field.type) {
    case 'TYPE_MESSAGE':
    case 'TYPE_GROUP':
      return normalizeMessage(v, resolveMessage(field.typeName, scope), where);
    case 'TYPE_STRING':
      assert.equal(typeof v, 'string', `${where}: expected a string, got ${JSON.stringify(v)}`);
      return dropZero && v === '' ? undefined : v;
    case 'TYPE_BOOL':
      assert.equal(typeof v, 'boolean', `${where}: expected a boolean, got ${JSON.stringify(v)}`);
      return dropZero && v === false ? undefined : v;
    case 'TYPE_BYTES': {
      let s: string;
      if (v instanceof Uint8Array) s = Buffer.from(v).toString('base64');
      else {
        assert.equal(typeof v, 'string', `${where}: expected bytes, got ${JSON.stringify(v)}`);
        s = v as string;
      }
      return dropZero && s === '' ? undefined : s;
    }
    default: {
      if (INT64_TYPES.has(field.type)) {
        let s: string;
        if (typeof v === 'number') {
          assert.ok(Number.isSafeInteger(v), `${where}: 64-bit value ${v} is not exact in JSON`);
          s = String(v);
        } else if (typeof v === 'bigint') {
          s = v.toString();
        } else {
          assert.equal(typeof v, 'string', `${where}: expected a 64-bit integer, got ${JSON.stringify(v)}`);
          s = BigInt(v as string).toString();
        }
        return dropZero && s === '0' ? undefined : s;
      }
      // int32, uint32, sint32, fixed32, sfixed32, enums (enums: Number), double, float
      assert.equal(typeof v, 'number', `${where}: expected a number (${field.type}), got ${JSON.stringify(v)}`);
      return dropZero && v === 0 ? undefined : v;
    }
  }
}

/** A message as the fixtures' JSON shows it: zero scalars, empty lists and empty maps dropped. */
function normalizeMessage(value: unknown, desc: MessageDescriptor, where: string): Record<string, unknown> {
  assert.ok(isPlainObject(value), `${where}: expected a ${desc.name} object, got ${JSON.stringify(value)}`);
  const oneofNames = new Set(desc.oneofDecl.map((o) => o.name));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = value[key];
    const here = `${where}.${key}`;
    const field = desc.field.find((f) => f.name === key);
    if (!field) {
      // With `oneofs: true` proto-loader adds a virtual property naming the set member of each oneof.
      if (oneofNames.has(key)) continue;
      assert.fail(`${here}: ${desc.name} has no field named ${key}`);
    }
    if (v === null || v === undefined) continue;
    const entry = field.label === 'LABEL_REPEATED' && field.type === 'TYPE_MESSAGE' ? resolveMessage(field.typeName, desc) : undefined;
    if (entry?.options?.mapEntry) {
      assert.ok(isPlainObject(v), `${here}: expected a map object`);
      const valueField = entry.field.find((f) => f.name === 'value');
      assert.ok(valueField, `${here}: map entry without a value field`);
      const keys = Object.keys(v).sort();
      if (keys.length === 0) continue;
      const m: Record<string, unknown> = {};
      for (const k of keys) m[k] = normalizeValue(valueField, v[k], entry, false, `${here}[${k}]`);
      out[key] = m;
    } else if (field.label === 'LABEL_REPEATED') {
      assert.ok(Array.isArray(v), `${here}: expected an array`);
      if (v.length === 0) continue;
      out[key] = v.map((e, i) => normalizeValue(field, e, desc, false, `${here}[${i}]`));
    } else {
      const n = normalizeValue(field, v, desc, true, here);
      if (n !== undefined) out[key] = n;
    }
  }
  return out;
}

interface FixtureRow {
  name: string;
  method: string;
  service: 'RuntimeService' | 'ImageService';
}

/** The README's table under `## requests/`: file name -> CRI method. */
function readFixtureTable(): FixtureRow[] {
  const readme = fs.readFileSync(path.join(wireDir, 'README.md'), 'utf8');
  const start = readme.indexOf('## requests/');
  assert.ok(start >= 0, 'README has no "## requests/" section');
  const next = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, next < 0 ? undefined : next);
  const rows: FixtureRow[] = [];
  for (const line of section.split('\n')) {
    const m = /^\|\s*([\w-]+)\s*\|\s*(\w+)\s*\|/.exec(line);
    if (!m || m[1] === 'file') continue;
    const name = m[1]!;
    rows.push({ name, method: m[2]!, service: IMAGE_SERVICE_FIXTURE.test(name) ? 'ImageService' : 'RuntimeService' });
  }
  return rows;
}

test('the CRI proto loads with both services and their streaming rpcs', () => {
  const runtime = service('RuntimeService');
  const image = service('ImageService');
  assert.equal(Object.keys(runtime).length, 35);
  assert.equal(Object.keys(image).length, 6);
  const streaming = [
    ...Object.entries(runtime)
      .filter(([, m]) => m.responseStream)
      .map(([n]) => n),
    ...Object.entries(image)
      .filter(([, m]) => m.responseStream)
      .map(([n]) => n),
  ].sort();
  assert.deepEqual(streaming, [
    'GetContainerEvents',
    'StreamContainerStats',
    'StreamContainers',
    'StreamImages',
    'StreamPodSandboxMetrics',
    'StreamPodSandboxStats',
    'StreamPodSandboxes',
  ]);
  for (const m of [...Object.values(runtime), ...Object.values(image)]) assert.equal(m.requestStream, false, m.path);
  assert.equal(runtime['RunPodSandbox']!.path, '/runtime.v1.RuntimeService/RunPodSandbox');
  assert.equal(image['PullImage']!.path, '/runtime.v1.ImageService/PullImage');
});

test('every captured crictl request decodes to exactly the official Go decoding', async (t) => {
  const table = readFixtureTable();
  const names = fs
    .readdirSync(requestsDir)
    .filter((f) => f.endsWith('.bin'))
    .map((f) => f.slice(0, -'.bin'.length))
    .sort();
  assert.ok(names.length > 0, `no fixtures in ${requestsDir}`);
  assert.deepEqual(names, table.map((r) => r.name).sort(), 'README table and .bin files disagree');

  let checked = 0;
  for (const name of names) {
    const row = table.find((r) => r.name === name);
    await t.test(name, () => {
      assert.ok(row, `${name} is not in the README table`);
      const method = service(row.service)[row.method];
      assert.ok(method, `${row.service}.${row.method} missing`);
      const bytes = fs.readFileSync(path.join(requestsDir, `${name}.bin`));
      const expected: unknown = JSON.parse(fs.readFileSync(path.join(requestsDir, `${name}.json`), 'utf8'));
      const reqDesc = descriptorOf(described(row.service, row.method).requestType);

      const decoded = method.requestDeserialize(bytes);
      const got = normalizeMessage(decoded, reqDesc, name);
      const want = normalizeMessage(expected, reqDesc, `${name}.json`);
      assert.deepStrictEqual(got, want);

      // Nothing was skipped as an unknown field: re-encoding what was decoded gives back as many bytes
      // (not always the same bytes: Go writes map entries in random order).
      const reencoded = method.requestSerialize(got);
      assert.equal(reencoded.length, bytes.length, 'decoded message re-encodes to a different size');
      assert.deepStrictEqual(normalizeMessage(method.requestDeserialize(reencoded), reqDesc, name), want);
      checked++;
    });
  }
  assert.equal(checked, names.length, 'some fixtures were not checked');
});

test('RunPodSandboxResponse round-trips', () => {
  const m = service('RuntimeService')['RunPodSandbox']!;
  const bytes = m.responseSerialize({ pod_sandbox_id: 'a1b2c3' });
  assert.deepEqual([...bytes], [0x0a, 0x06, ...Buffer.from('a1b2c3')]);
  assert.deepStrictEqual(m.responseDeserialize(bytes), { pod_sandbox_id: 'a1b2c3' });
});

test('PodSandboxStatusResponse round-trips, including int64 beyond 2^53 and present-but-empty messages', () => {
  const m = service('RuntimeService')['PodSandboxStatus']!;
  const input = {
    status: {
      id: 'sandbox1',
      metadata: { name: 'web', uid: 'uid-1', namespace: 'default', attempt: 2 },
      state: 1,
      created_at: '1700000000123456789',
      network: { ip: '10.88.0.5', additional_ips: [{ ip: 'fd00::5' }] },
      linux: { namespaces: { options: {} } },
      labels: { app: 'web' },
      annotations: { 'example.com/a': 'b' },
      runtime_handler: 'runc',
    },
    info: { info: '{"pid":42}' },
    containers_statuses: [
      {
        id: 'ctr1',
        metadata: { name: 'app', attempt: 0 },
        state: 2,
        created_at: '1700000000000000001',
        finished_at: '1700000000999999999',
        exit_code: 137,
        image: { image: 'docker.io/library/busybox:latest' },
        reason: 'OOMKilled',
        log_path: '/var/log/pods/x/app/0.log',
        stop_signal: 23,
      },
    ],
    timestamp: '1700000001000000000',
  };
  const decoded = m.responseDeserialize(m.responseSerialize(input)) as Record<string, any>;
  const desc = descriptorOf(described('RuntimeService', 'PodSandboxStatus').responseType);
  assert.deepStrictEqual(normalizeMessage(decoded, desc, 'decoded'), normalizeMessage(input, desc, 'input'));
  assert.equal(decoded['status'].created_at, '1700000000123456789');
  assert.equal(decoded['timestamp'], '1700000001000000000');
  assert.equal(decoded['containers_statuses'][0].finished_at, '1700000000999999999');
  assert.deepStrictEqual(decoded['status'].linux.namespaces.options, {
    network: 0,
    pid: 0,
    ipc: 0,
    target_id: '',
    userns_options: null,
  });
  assert.equal(decoded['containers_statuses'][0].resources, null);
});

test('field numbers match upstream (tag bytes on the wire)', () => {
  const cases: { type: string; value: object; bytes: number[] }[] = [
    // created_at = 4, varint
    { type: 'PodSandboxStatus', value: { created_at: '5' }, bytes: [0x20, 0x05] },
    // timestamp = 4, varint
    { type: 'PodSandboxStatusResponse', value: { timestamp: '1' }, bytes: [0x20, 0x01] },
    // log_path = 11, length-delimited
    { type: 'ContainerConfig', value: { log_path: 'x' }, bytes: [0x5a, 0x01, 0x78] },
    // CDI_devices = 17 (two-byte tag), stop_signal = 18
    { type: 'ContainerConfig', value: { CDI_devices: [{ name: 'v' }] }, bytes: [0x8a, 0x01, 0x03, 0x0a, 0x01, 0x76] },
    { type: 'ContainerConfig', value: { stop_signal: 23 }, bytes: [0x90, 0x01, 0x17] },
    // run_as_group = 8 in the sandbox context, 12 in the container context
    { type: 'LinuxSandboxSecurityContext', value: { run_as_group: { value: '7' } }, bytes: [0x42, 0x02, 0x08, 0x07] },
    { type: 'LinuxContainerSecurityContext', value: { run_as_group: { value: '7' } }, bytes: [0x62, 0x02, 0x08, 0x07] },
    // supplemental_groups = 8, packed; supplemental_groups_policy = 17
    { type: 'LinuxContainerSecurityContext', value: { supplemental_groups: ['1', '2'] }, bytes: [0x42, 0x02, 0x01, 0x02] },
    { type: 'LinuxContainerSecurityContext', value: { supplemental_groups_policy: 1 }, bytes: [0x88, 0x01, 0x01] },
    // seccomp = 15
    { type: 'LinuxContainerSecurityContext', value: { seccomp: {} }, bytes: [0x7a, 0x00] },
    // user_specified_image = 18, runtime_handler = 19
    { type: 'ImageSpec', value: { user_specified_image: 'a' }, bytes: [0x92, 0x01, 0x01, 0x61] },
    { type: 'ImageSpec', value: { runtime_handler: 'a' }, bytes: [0x9a, 0x01, 0x01, 0x61] },
    // Namespace.options = 2
    { type: 'Namespace', value: { options: {} }, bytes: [0x12, 0x00] },
    // Mount.image_sub_path = 10
    { type: 'Mount', value: { image_sub_path: 's' }, bytes: [0x52, 0x01, 0x73] },
    // ExecRequest.audit_request_id = 7
    { type: 'ExecRequest', value: { audit_request_id: 'r' }, bytes: [0x3a, 0x01, 0x72] },
    // StopContainerRequest.timeout = 2
    { type: 'StopContainerRequest', value: { timeout: '10' }, bytes: [0x10, 0x0a] },
    // LinuxContainerResources.memory_swap_limit_in_bytes = 10
    { type: 'LinuxContainerResources', value: { memory_swap_limit_in_bytes: '1' }, bytes: [0x50, 0x01] },
    // PsiData.Avg10 = 2, double
    { type: 'PsiData', value: { Avg10: 1 }, bytes: [0x11, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f] },
  ];
  for (const c of cases) {
    const got = [...messageType(c.type).serialize(c.value)];
    assert.deepEqual(got, c.bytes, `${c.type} ${JSON.stringify(c.value)}`);
  }
});
