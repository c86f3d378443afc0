// How cribd reaches registries, end to end through PullImage: the CA it is given (--registry-ca),
// the registries it may reach unverified (--insecure-registry), mirrors that fail before the
// registry itself answers, and a registry behind Bearer tokens.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { call } from '../src/client/client.js';
import { Harness } from './support/harness.js';
import { rejectsWith } from './support/grpc-assert.js';
import { startFakeRegistry, type FakeRegistry } from './support/fake-registry.js';
import { buildTestImage, freePort, pushLayout, startRegistry, type TestLayout, type TestRegistry } from './support/registry.js';
import { startTokenRegistry, type TokenRegistry } from './support/token-registry.js';

const USER = 'alice';
const PASSWORD = 'wonderland';

describe('cribd and registries: CA and insecure flags, mirrors, Bearer tokens', () => {
  let work = '';
  let layout: TestLayout;
  /** The image's home: plain HTTP on loopback, with an access log. */
  let plain: TestRegistry | undefined;
  /** TLS registries: trusted through --registry-ca, listed with --insecure-registry, neither. */
  let byCa: TestRegistry | undefined;
  let insecure: TestRegistry | undefined;
  let untrusted: TestRegistry | undefined;
  /** A mirror that has nothing (404 for everything), after one nobody listens on. */
  let emptyMirror: FakeRegistry | undefined;
  let tokens: TokenRegistry | undefined;
  let h: Harness | undefined;
  const H = () => h as Harness;
  const configDigest = () => layout.images[0]?.config.digest;

  before(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'crib-registry-config-'));
    layout = await buildTestImage(path.join(work, 'image'), { layers: [{ entries: [{ path: 'hello', content: 'from a registry\n' }] }] });
    [plain, byCa, insecure, untrusted] = await Promise.all([
      startRegistry({ accessLog: true }),
      startRegistry({ tls: true }),
      startRegistry({ tls: true }),
      startRegistry({ tls: true }),
    ]);
    for (const reg of [plain, byCa, insecure, untrusted]) await pushLayout(layout, reg, 'test/img', '1');
    emptyMirror = await startFakeRegistry();
    tokens = await startTokenRegistry({ upstream: plain.url, user: USER, password: PASSWORD, refreshToken: 'unused' });
    const dead = await freePort();
    h = new Harness({
      flags: ['--registry-ca', byCa.caFile ?? '', '--insecure-registry', insecure.host],
      config: { registries: { mirrors: { [plain.host]: [`http://127.0.0.1:${dead}`, `http://${emptyMirror.host}`] } } },
    });
    await h.start();
  });
  after(async () => {
    await h?.cleanup();
    await Promise.all([plain?.stop(), byCa?.stop(), insecure?.stop(), untrusted?.stop(), emptyMirror?.close(), tokens?.close()]);
    await fsp.rm(work, { recursive: true, force: true });
  });

  const pull = (image: string, auth?: { username: string; password: string }) =>
    call(H().client.image, 'PullImage', { image: { image }, ...(auth ? { auth } : {}) });
  const listed = async (image: string) => (await call(H().client.image, 'ImageStatus', { image: { image } })).image?.id;

  it('trusts a TLS registry signed by the --registry-ca CA', async () => {
    const ref = `${byCa?.host}/test/img:1`;
    assert.equal((await pull(ref)).image_ref, configDigest());
    assert.equal(await listed(ref), configDigest());
  });

  it('reaches a TLS registry named by --insecure-registry without verifying it', async () => {
    const ref = `${insecure?.host}/test/img:1`;
    assert.equal((await pull(ref)).image_ref, configDigest());
    assert.equal(await listed(ref), configDigest());
  });

  it('refuses a TLS registry it has neither a CA nor an insecure listing for', async () => {
    const ref = `${untrusted?.host}/test/img:1`;
    await rejectsWith(pull(ref), grpc.status.UNAVAILABLE, new RegExp(`TLS certificate of ${untrusted?.host} not trusted`));
    assert.equal(await listed(ref), undefined);
  });

  it('falls through a dead mirror and an empty one to the registry itself', async () => {
    const ref = `${plain?.host}/test/img:1`;
    assert.equal((await pull(ref)).image_ref, configDigest());
    assert.ok(emptyMirror?.requests.includes('/v2/test/img/manifests/1'), `the second mirror was asked: ${JSON.stringify(emptyMirror?.requests)}`);
    const served = fs.readFileSync(plain?.logFile ?? '', 'utf8');
    assert.match(served, /"GET \/v2\/test\/img\/manifests\/1 /, 'then the registry answered');
    assert.equal(await listed(ref), configDigest());
  });

  it('pulls from a registry behind Bearer tokens with the CRI credentials, keeping the token from the blob store', async () => {
    const ref = `${tokens?.host}/test/img:1`;
    await rejectsWith(pull(ref), grpc.status.UNAUTHENTICATED, /requires authentication/);
    await rejectsWith(pull(ref, { username: USER, password: 'wrong' }), grpc.status.UNAUTHENTICATED, new RegExp(`rejected the credentials of user "${USER}"`));
    const before = tokens?.tokenRequests.length ?? 0;
    assert.equal((await pull(ref, { username: USER, password: PASSWORD })).image_ref, configDigest());
    assert.deepEqual(tokens?.tokenRequests.slice(before), [
      {
        method: 'GET',
        authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`,
        scope: ['repository:test/img:pull'],
        service: 'crib-test',
      },
    ]);
    assert.ok((tokens?.storageAuth.length ?? 0) > 0, 'blobs came from the blob store');
    assert.ok(
      tokens?.storageAuth.every((a) => a === undefined),
      'which never saw the token',
    );
    assert.equal(await listed(ref), configDigest());
  });
});
