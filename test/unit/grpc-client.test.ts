// The CLI's own gRPC client (src/cli/grpc): the protobuf codec gives exactly what cribd's protobufjs
// (de)serializers give, the framing survives any cut, and the channel maps every end of a call to the
// status grpc-js would report, against a grpc-js server on a socket in /tmp.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { criServices, protosJsonFile } from '../../src/cri/proto.js';
import { ProtoCodec, type NamespaceJson } from '../../src/client/grpc/proto-codec.js';
import { FrameReader, frameMessage, grpcTimeout } from '../../src/client/grpc/framing.js';
import { GrpcChannel } from '../../src/client/grpc/channel.js';
import { GrpcStatus, type GrpcError } from '../../src/client/grpc/status.js';
import { call, connect, serverStream } from '../../src/client/client.js';
import { repoRoot } from '../../src/util/paths.js';

const codec = new ProtoCodec(JSON.parse(fs.readFileSync(protosJsonFile, 'utf8')) as NamespaceJson);
const services = criServices();
// JSON.stringify keeps key order: the CLI prints these objects, so the order must be protobufjs'.
const same = (a: unknown, b: unknown, what: string) => assert.equal(JSON.stringify(a), JSON.stringify(b), what);

describe('proto codec', () => {
  it('decodes and encodes every captured crictl request as protobufjs does', () => {
    const dir = path.join(repoRoot, 'test', 'fixtures', 'cri-wire', 'requests');
    const readme = fs.readFileSync(path.join(dir, '..', 'README.md'), 'utf8');
    let n = 0;
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.bin'))) {
      const name = f.slice(0, -4);
      const method = new RegExp(`^\\|\\s*${name}\\s*\\|\\s*(\\w+)\\s*\\|`, 'm').exec(readme)?.[1];
      assert.ok(method, `${name} in the README table`);
      const service = /^(pullimage|listimages|imagestatus)/.test(name) ? 'runtime.v1.ImageService' : 'runtime.v1.RuntimeService';
      const def = (service.endsWith('ImageService') ? services.image : services.runtime)[method];
      const info = codec.method(service, method);
      assert.ok(def && info, `${service}/${method}`);
      const bytes = fs.readFileSync(path.join(dir, f));
      const want = def.requestDeserialize(bytes) as object;
      same(codec.decode(info.requestType, bytes), want, `${name} decoded`);
      same(def.requestDeserialize(codec.encode(info.requestType, want)), want, `${name} re-encoded`);
      n++;
    }
    assert.ok(n >= 10, `${n} fixtures`);
  });

  it('decodes responses as protobufjs does: 64-bit values, negative ints, bytes, enums, maps, absent messages', () => {
    const cases: [string, object][] = [
      [
        'ListPodSandbox',
        {
          items: [
            {
              id: 'a',
              metadata: { name: 'p', uid: 'u', namespace: 'n', attempt: 2 },
              state: 1,
              created_at: '1764612345123456789',
              labels: { b: '2', a: '1' },
              annotations: {},
              runtime_handler: 'runc',
            },
            { id: 'b' },
          ],
        },
      ],
      ['ExecSync', { stdout: Buffer.from('out\n'), stderr: Buffer.alloc(0), exit_code: -1 }],
      [
        'ContainerStatus',
        {
          status: {
            id: 'c',
            state: 2,
            exit_code: 137,
            finished_at: '-5',
            mounts: [{ container_path: '/x', propagation: 2, uidMappings: [{ host_id: 4294967295, length: 1 }] }],
          },
          info: { k: 'v' },
        },
      ],
      [
        'ListContainerStats',
        { stats: [{ attributes: { id: 'c' }, cpu: { timestamp: '1', usage_core_nano_seconds: { value: '18446744073709551615' } }, memory: null }] },
      ],
      ['Version', {}],
    ];
    for (const [method, value] of cases) {
      const def = services.runtime[method];
      const info = codec.method('runtime.v1.RuntimeService', method);
      assert.ok(def && info, method);
      const wire = def.responseSerialize(value);
      same(codec.decode(info.responseType, wire), def.responseDeserialize(wire), method);
    }
  });

  it('takes what protobufjs fromObject takes: enum names, numbers as strings, null for unset', () => {
    const info = codec.method('runtime.v1.RuntimeService', 'RunPodSandbox');
    assert.ok(info);
    const req = {
      config: {
        metadata: { name: 'x', attempt: '3' },
        linux: { security_context: { namespace_options: { network: 'NODE', pid: 1 } } },
        dns_config: null,
        port_mappings: [{ host_port: 80, protocol: 'UDP' }],
      },
      runtime_handler: 'runc',
    };
    const def = services.runtime['RunPodSandbox'];
    same(def?.requestDeserialize(codec.encode(info.requestType, req)), def?.requestDeserialize(def.requestSerialize(req)), 'RunPodSandbox');
    assert.throws(() => codec.encode(info.requestType, { config: { port_mappings: 'x' } }), /array expected/);
    assert.throws(() => codec.decode(info.requestType, Buffer.from([0x0a, 0x05, 0x01])), RangeError);
  });
});

describe('gRPC framing', () => {
  it('cuts messages out of chunks cut anywhere, and refuses one over the bound before it is in', () => {
    const msgs = [Buffer.from('a'), Buffer.alloc(0), Buffer.alloc(70_000, 7)];
    const wire = Buffer.concat(msgs.map(frameMessage));
    for (const step of [1, 3, 5, 4096, wire.length]) {
      const r = new FrameReader(1 << 20);
      const got: Buffer[] = [];
      for (let i = 0; i < wire.length; i += step) got.push(...r.push(wire.subarray(i, i + step)));
      assert.deepEqual(got, msgs, `chunks of ${step}`);
      assert.equal(r.partial, false);
    }
    const r = new FrameReader(10);
    assert.throws(
      () => r.push(frameMessage(Buffer.alloc(11)).subarray(0, 5)),
      (e: GrpcError) => e.code === GrpcStatus.RESOURCE_EXHAUSTED,
    );
    assert.throws(
      () => new FrameReader(10).push(Buffer.from([1, 0, 0, 0, 0])),
      (e: GrpcError) => e.code === GrpcStatus.INTERNAL,
    );
  });

  it('writes grpc-timeout in at most 8 digits', () => {
    assert.equal(grpcTimeout(1500), '1500m');
    assert.equal(grpcTimeout(120_000_000), '120000S');
    assert.equal(grpcTimeout(-5), '0m');
  });
});

describe('gRPC channel against grpc-js', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-grpc-client-'));
  const socket = path.join(dir, 'grpc.sock');
  const server = new grpc.Server();
  let release: (() => void) | undefined;

  before(async () => {
    server.addService(services.runtime, {
      Version: (c: grpc.ServerUnaryCall<{ version: string }, object>, cb: grpc.sendUnaryData<object>) => {
        if (c.request.version === 'fail') return cb({ code: grpc.status.NOT_FOUND, details: 'no such thing: 100% gone\nreally' });
        if (c.request.version === 'hang') {
          release = () => cb(null, {});
          return;
        }
        cb(null, { version: c.request.version, runtime_name: 'test', runtime_version: '1', runtime_api_version: 'v1' });
      },
      GetContainerEvents: (c: grpc.ServerWritableStream<object, object>) => {
        c.write({ container_id: 'one', container_event_type: 1, created_at: '5' });
        c.write({ container_id: 'two' });
        c.on('cancelled', () => undefined);
      },
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
    );
  });

  after(() => {
    release?.();
    server.forceShutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('makes unary calls and reports a status with its message decoded', async () => {
    const c = connect(socket);
    try {
      const v = await call(c.runtime, 'Version', { version: 'v1' });
      same(v, { version: 'v1', runtime_name: 'test', runtime_version: '1', runtime_api_version: 'v1' }, 'answer');
      await assert.rejects(call(c.runtime, 'Version', { version: 'fail' }), (e: GrpcError) => {
        assert.equal(e.code, GrpcStatus.NOT_FOUND);
        assert.equal(e.details, 'no such thing: 100% gone\nreally');
        assert.equal(e.message, '5 NOT_FOUND: no such thing: 100% gone\nreally');
        return true;
      });
      await assert.rejects(call(c.runtime, 'ListContainers', {}), (e: GrpcError) => e.code === GrpcStatus.UNIMPLEMENTED);
      await assert.rejects(call(c.runtime, 'Version', { version: 'hang' }, 0.2), (e: GrpcError) => e.code === GrpcStatus.DEADLINE_EXCEEDED);
    } finally {
      c.close();
    }
  });

  it('streams server messages until cancelled, which ends the stream with CANCELLED', async () => {
    const c = connect(socket);
    try {
      const stream = serverStream(c.runtime, 'GetContainerEvents', {});
      const got: string[] = [];
      const ended = new Promise<number>((resolve) => {
        stream.on('data', (e: { container_id: string }) => {
          got.push(e.container_id);
          if (got.length === 2) stream.cancel();
        });
        stream.on('error', (e: GrpcError) => resolve(e.code));
      });
      assert.equal(await ended, GrpcStatus.CANCELLED);
      assert.deepEqual(got, ['one', 'two']);
    } finally {
      c.close();
    }
  });

  it('reports a socket nobody serves as UNAVAILABLE, naming the cause', async () => {
    const ch = new GrpcChannel({ socket: path.join(dir, 'nobody.sock') });
    await assert.rejects(ch.unary('/x.Y/Z', Buffer.alloc(0), Date.now() + 5000), (e: GrpcError) => {
      assert.equal(e.code, GrpcStatus.UNAVAILABLE);
      assert.match(e.details, /ENOENT/);
      return true;
    });
    ch.close();
  });
});
