// The streaming server's pure pieces: the single-use token cache (use, expiry, bound), kubelet's
// request rules, the resize decoder and its coalescing iterable, the WebSocket channel codecs, the
// error stream's Status, and the handshake's negotiation.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { CribError } from '../../src/util/errors.js';
import { RequestCache } from '../../src/streaming/request-cache.js';
import { ResizeFormatError, TerminalSizeDecoder, terminalSizes, MAX_RESIZE_VALUE_BYTES } from '../../src/streaming/resize.js';
import { StreamingRequestError, validatePortForward, validateStreamFlags } from '../../src/streaming/types.js';
import { CLOSE_CHANNEL, channelCodec, decodeChannelMessage, encodeChannelMessage } from '../../src/streaming/websocket.js';
import { encodeStatus, exitCodeStatus, internalErrorStatus, successStatus } from '../../src/streaming/remotecommand.js';
import { negotiate } from '../../src/streaming/handshake.js';
import { streamPort, webSocketPorts } from '../../src/streaming/portforward.js';

describe('request cache', () => {
  test('a token is URL-safe, random, and good for one use', () => {
    const cache = new RequestCache<string>();
    const a = cache.insert('a');
    const b = cache.insert('b');
    assert.match(a, /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual(a, b);
    assert.equal(cache.consume(a), 'a');
    assert.equal(cache.consume(a), undefined);
    assert.equal(cache.consume('nope'), undefined);
    assert.equal(cache.size, 1);
  });

  test('a token expires after its TTL', () => {
    let now = 1000;
    const cache = new RequestCache<string>({ ttlMs: 60_000, now: () => now });
    const t = cache.insert('x');
    now += 60_000;
    assert.equal(cache.consume(t), undefined);
    const u = cache.insert('y');
    now += 59_999;
    assert.equal(cache.consume(u), 'y');
  });

  test('full of live tokens it refuses (Unavailable); expired ones make room', () => {
    let now = 0;
    const cache = new RequestCache<number>({ ttlMs: 10, maxEntries: 3, now: () => now });
    for (let i = 0; i < 3; i++) cache.insert(i);
    assert.throws(
      () => cache.insert(4),
      (err: unknown) => err instanceof CribError && err.kind === 'Unavailable',
    );
    now = 10;
    assert.doesNotThrow(() => cache.insert(5));
    assert.equal(cache.size, 1);
  });

  test('clear forgets every token (the server closing)', () => {
    const cache = new RequestCache<string>();
    const t = cache.insert('x');
    cache.clear();
    assert.equal(cache.size, 0);
    assert.equal(cache.consume(t), undefined);
  });
});

describe("request rules (kubelet's)", () => {
  const base = { containerId: 'c', cmd: ['true'], tty: false, stdin: false, stdout: true, stderr: false };
  const invalid = (err: unknown) => err instanceof StreamingRequestError && err.kind === 'InvalidArgument';
  test('tty with stderr, no stream at all, no container: INVALID_ARGUMENT', () => {
    assert.throws(() => validateStreamFlags({ ...base, tty: true, stderr: true }), invalid);
    assert.throws(() => validateStreamFlags({ ...base, stdout: false }), invalid);
    assert.throws(() => validateStreamFlags({ ...base, containerId: '' }), invalid);
    assert.doesNotThrow(() => validateStreamFlags({ ...base, stdout: false, stdin: true }));
    assert.throws(() => validatePortForward({ podSandboxId: '', ports: [] }), invalid);
    assert.throws(() => validatePortForward({ podSandboxId: 'p', ports: [70000] }), invalid);
  });

  test('ports: a header or query value must be 1-65535', () => {
    assert.equal(streamPort('8080'), 8080);
    for (const bad of [undefined, '', '0', '65536', '-1', '80x', '1e3']) assert.equal(typeof streamPort(bad), 'string', String(bad));
    const req = { podSandboxId: 'p', ports: [81] };
    assert.deepEqual(webSocketPorts(new URL('http://h/portforward/t?port=80,443&port=8080'), req), [80, 443, 8080]);
    assert.deepEqual(webSocketPorts(new URL('http://h/portforward/t'), req), [81]);
    assert.equal(typeof webSocketPorts(new URL('http://h/portforward/t?port=abc'), req), 'string');
  });
});

describe('resize', () => {
  test('values back to back, split anywhere, Go field names in any case', () => {
    const d = new TerminalSizeDecoder();
    const text = '{"Width":80,"Height":24}\n{"width":100,\n"HEIGHT":50} {"Width":1,"Height":2,"x":"}{"}';
    const sizes = [...text].flatMap((c) => d.push(Buffer.from(c)));
    assert.deepEqual(sizes, [
      { width: 80, height: 24 },
      { width: 100, height: 50 },
      { width: 1, height: 2 },
    ]);
  });

  test('garbage, out-of-range sizes and endless values are errors', () => {
    for (const bad of ['x', '}', '{"Width":-1}', '{"Width":70000}', '{"Height":"24"}', '[1]']) {
      assert.throws(() => new TerminalSizeDecoder().push(Buffer.from(bad)), ResizeFormatError, bad);
    }
    assert.throws(() => new TerminalSizeDecoder().push(Buffer.from(`{"Width":${' '.repeat(MAX_RESIZE_VALUE_BYTES)}`)), ResizeFormatError);
  });

  test('the iterable gives the latest size to a slow reader and ends with the stream', async () => {
    const source = new PassThrough();
    const sizes = terminalSizes(source, () => undefined);
    source.write('{"Width":1,"Height":1}{"Width":2,"Height":2}');
    source.write('{"Width":3,"Height":3}');
    await new Promise((r) => setImmediate(r));
    const it = sizes[Symbol.asyncIterator]();
    assert.deepEqual(await it.next(), { value: { width: 3, height: 3 }, done: false });
    const pending = it.next();
    source.end('{"Width":4,"Height":4}');
    assert.deepEqual(await pending, { value: { width: 4, height: 4 }, done: false });
    assert.deepEqual(await it.next(), { value: undefined, done: true });
  });
});

describe('WebSocket channel codecs', () => {
  const binary = channelCodec('v4.channel.k8s.io');
  const b64 = channelCodec('v4.base64.channel.k8s.io');
  const v5 = channelCodec('v5.channel.k8s.io');

  test('binary: the channel byte, then the data; base64: an ASCII digit, then base64 text', () => {
    assert.deepEqual(encodeChannelMessage(1, Buffer.from('hi'), binary), Buffer.from([1, 0x68, 0x69]));
    assert.equal(encodeChannelMessage(1, Buffer.from('hi'), b64), '1aGk=');
    assert.deepEqual(decodeChannelMessage(Buffer.from([0, 1, 2]), binary), { kind: 'data', channel: 0, data: Buffer.from([1, 2]) });
    assert.deepEqual(decodeChannelMessage(Buffer.from('0aGk='), b64), { kind: 'data', channel: 0, data: Buffer.from('hi') });
    assert.equal(decodeChannelMessage(Buffer.alloc(0), binary), undefined);
  });

  test('v5 close messages; 255 is plain data before v5; malformed messages are invalid', () => {
    assert.deepEqual(decodeChannelMessage(Buffer.from([CLOSE_CHANNEL, 0]), v5), { kind: 'close', channel: 0 });
    assert.equal(decodeChannelMessage(Buffer.from([CLOSE_CHANNEL, 0, 1]), v5)?.kind, 'invalid');
    assert.equal(decodeChannelMessage(Buffer.from([CLOSE_CHANNEL, 0]), binary)?.kind, 'data');
    assert.equal(decodeChannelMessage(Buffer.from('0a*b='), b64)?.kind, 'invalid');
    assert.equal(decodeChannelMessage(Buffer.from('0abc'), b64)?.kind, 'invalid');
  });
});

describe('the error stream', () => {
  test("v4 sends JSON Status for every outcome; earlier protocols only a failure's message", () => {
    assert.equal(encodeStatus(successStatus(), true)?.toString(), '{"metadata":{},"status":"Success"}');
    assert.equal(encodeStatus(successStatus(), false), undefined);
    const failed = exitCodeStatus(['sh', '-c', 'exit 7'], 7);
    assert.equal(
      encodeStatus(failed, true)?.toString(),
      '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c exit 7], exit code 7","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"7"}]}}',
    );
    assert.equal(encodeStatus(failed, false)?.toString(), failed.message);
    assert.equal(internalErrorStatus('boom').code, 500);
  });

  test("negotiation follows the client's preference among what the server speaks", () => {
    assert.equal(negotiate(['v5.channel.k8s.io', 'v4.channel.k8s.io', 'channel.k8s.io'], ['v4.channel.k8s.io', 'channel.k8s.io']), 'v4.channel.k8s.io');
    assert.equal(negotiate(['x'], ['y']), undefined);
  });
});
