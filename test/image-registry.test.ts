// The registry client against real registries: distribution's docker-registry on 127.0.0.1 (plain,
// and TLS with htpasswd), a Bearer token server with a redirecting blob store written here, skopeo
// as the independent pusher and inspector.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { createHash, randomBytes } from 'node:crypto';
import { RegistryClient } from '../src/image/registry/client.js';
import type { Credentials, Descriptor, Progress, RegistryConfig } from '../src/image/registry/types.js';
import { MediaType } from '../src/image/manifest.js';
import { CribError } from '../src/util/errors.js';
import {
  buildTestImage,
  buildTestIndex,
  busyboxLayer,
  freePort,
  pushLayout,
  registryBlobPath,
  skopeoInspect,
  startRegistry,
  type TestImageSpec,
  type TestLayout,
  type TestRegistry,
} from '../support/registry.js';
import { fakeImage, startFakeRegistry, type FakeRegistry } from './support/fake-registry.js';
import { startTokenRegistry, type TokenRegistry, type TokenRequest } from './support/token-registry.js';

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const config = (c: Partial<RegistryConfig> = {}): RegistryConfig => ({ mirrors: {}, insecure: [], caFiles: [], ...c });
const isKind = (kind: string, re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof CribError, `not a CribError: ${String(e)}`);
  assert.equal(e.kind, kind, e.message);
  assert.match(e.message, re);
  return true;
};

const USER = 'crib';
const PASSWORD = 's3cret-pw';

/** The multi-layer test image: busybox, some files, then a layer with a whiteout and an opaque dir. */
const multiLayer: TestImageSpec = {
  layers: [
    { entries: busyboxLayer() },
    {
      entries: [
        { path: 'etc', type: 'dir' },
        { path: 'etc/hello', content: 'hello\n' },
        { path: 'dir', type: 'dir' },
        { path: 'dir/a', content: 'a\n' },
        { path: 'dir/b', content: 'b\n' },
        { path: 'gone', content: 'soon removed\n' },
      ],
      compression: 'none',
    },
    {
      entries: [
        { path: '.wh.gone', content: '' },
        { path: 'dir', type: 'dir' },
        { path: 'dir/.wh..wh..opq', content: '' },
        { path: 'dir/c', content: 'c\n' },
      ],
    },
  ],
  config: { Cmd: ['/bin/sh', '-c', 'echo hello'] },
};

/** A two-platform image; each platform's only layer holds a file naming it. */
const twoPlatforms = (): TestImageSpec[] => [
  { layers: [{ entries: [{ path: 'platform', content: 'amd64\n' }] }], architecture: 'amd64' },
  {
    layers: [
      {
        entries: [
          { path: 'platform', content: 'arm64\n' },
          { path: 'only-arm', content: 'x' },
        ],
      },
    ],
    architecture: 'arm64',
    variant: 'v8',
  },
];

/** An image whose layer exists nowhere else (so corrupting it in storage hurts no other test). */
const uniqueImage = (): TestImageSpec => ({ layers: [{ entries: [{ path: 'noise', content: randomBytes(200_000) }] }] });

describe('registry client', () => {
  let tmp = '';
  let plain: TestRegistry | undefined;
  let secure: TestRegistry | undefined;
  const clients: RegistryClient[] = [];
  const servers: http.Server[] = [];
  let multi: TestLayout;
  let list: TestLayout;
  let index: TestLayout;
  const client = (c: Partial<RegistryConfig> = {}, timeoutMs?: number): RegistryClient => {
    const cl = new RegistryClient(config(c), timeoutMs ? { timeoutMs } : {});
    clients.push(cl);
    return cl;
  };
  const P = () => plain as TestRegistry;
  const S = () => secure as TestRegistry;
  let n = 0;
  const dest = () => path.join(tmp, `dest-${n++}`);

  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'crib-registry-test-'));
    // Each registry is recorded as soon as it is up, so `after` stops it even if the other failed.
    const started = await Promise.allSettled([
      startRegistry().then((r) => (plain = r)),
      startRegistry({ tls: true, htpasswd: { user: USER, password: PASSWORD } }).then((r) => (secure = r)),
    ]);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    multi = await buildTestImage(path.join(tmp, 'multi'), multiLayer, 'v1');
    list = await buildTestIndex(path.join(tmp, 'list'), twoPlatforms(), 'v1', 'docker');
    index = await buildTestIndex(path.join(tmp, 'index'), twoPlatforms(), 'v1', 'oci');
    await Promise.all([
      pushLayout(multi, P(), 'test/multi'),
      pushLayout(list, P(), 'test/list'),
      pushLayout(index, P(), 'test/index'),
      pushLayout(multi, S(), 'test/multi', 'v1', { user: USER, password: PASSWORD }),
    ]);
  });

  after(async () => {
    for (const c of clients) c.close();
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
    await Promise.all([plain?.stop(), secure?.stop()]);
    if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  });

  async function fetchAndCompare(c: RegistryClient, ref: string, desc: Descriptor, expected: Buffer, creds?: Credentials): Promise<Progress[]> {
    const file = dest();
    const progress: Progress[] = [];
    await c.fetchBlob(ref, desc, file, creds, (p) => progress.push(p));
    assert.ok((await fsp.readFile(file)).equals(expected), `blob ${desc.digest} differs`);
    return progress;
  }

  it('resolves a multi-layer image and fetches its config and layers', async () => {
    const c = client();
    const ref = `${P().host}/test/multi:v1`;
    const img = multi.images[0]!;
    const r = await c.resolve(ref);
    assert.equal(r.digest, img.manifest.digest);
    assert.equal(r.manifestDigest, img.manifest.digest);
    assert.ok(r.bytes.equals(img.manifest.bytes));
    assert.equal(r.manifest.mediaType, MediaType.OciManifest);
    assert.deepEqual(
      r.manifest.layers.map((l) => [l.digest, l.size, l.mediaType]),
      img.layers.map((l) => [l.digest, l.size, l.mediaType]),
    );
    assert.deepEqual(
      r.manifest.layers.map((l) => l.mediaType),
      [MediaType.OciLayerGzip, MediaType.OciLayer, MediaType.OciLayerGzip],
    );

    assert.ok((await c.fetchConfig(ref, r.manifest.config)).equals(img.config.bytes));
    for (const [i, layer] of r.manifest.layers.entries()) {
      const progress = await fetchAndCompare(c, ref, layer, await fsp.readFile(img.layers[i]!.file));
      assert.deepEqual(progress.at(-1), { digest: layer.digest, done: layer.size, total: layer.size });
    }
    // The busybox layer really is busybox.
    const tar = zlib.gunzipSync(await fsp.readFile(img.layers[0]!.file));
    assert.ok(tar.includes(fs.readFileSync('/bin/busybox').subarray(0, 4096)));

    // By digest, and by tag plus digest (the digest is what is fetched).
    const byDigest = await c.resolve(`${P().host}/test/multi@${img.manifest.digest}`);
    assert.equal(byDigest.manifestDigest, img.manifest.digest);
    const both = await c.resolve(`${P().host}/test/multi:no-such-tag@${img.manifest.digest}`);
    assert.equal(both.manifestDigest, img.manifest.digest);
  });

  it('chooses the platform from a Docker manifest list', async () => {
    const c = client();
    const ref = `${P().host}/test/list:v1`;
    const arm = await c.resolve(ref, undefined, { os: 'linux', architecture: 'arm64' });
    assert.equal(arm.digest, list.index!.digest);
    assert.equal(arm.manifestDigest, list.images[1]!.manifest.digest);
    assert.equal(arm.manifest.mediaType, MediaType.DockerManifest);
    const layer = arm.manifest.layers[0]!;
    assert.equal(layer.mediaType, MediaType.DockerLayerGzip);
    const file = dest();
    await c.fetchBlob(ref, layer, file);
    assert.ok(zlib.gunzipSync(await fsp.readFile(file)).includes('arm64\n'));

    const amd = await c.resolve(ref, undefined, { os: 'linux', architecture: 'amd64' });
    assert.equal(amd.manifestDigest, list.images[0]!.manifest.digest);
    if (process.arch === 'x64') assert.equal((await c.resolve(ref)).manifestDigest, list.images[0]!.manifest.digest);

    // Pinning the list's digest works too.
    const pinned = await c.resolve(`${P().host}/test/list@${list.index!.digest}`, undefined, { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.equal(pinned.manifestDigest, list.images[1]!.manifest.digest);

    await assert.rejects(
      c.resolve(ref, undefined, { os: 'linux', architecture: 's390x' }),
      isKind('NotFound', /linux\/s390x \(available: linux\/amd64, linux\/arm64\/v8\)/),
    );
  });

  it('chooses the platform from an OCI index', async () => {
    const c = client();
    const ref = `${P().host}/test/index:v1`;
    const arm = await c.resolve(ref, undefined, { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.equal(arm.digest, index.index!.digest);
    assert.equal(arm.manifestDigest, index.images[1]!.manifest.digest);
    assert.equal(arm.manifest.mediaType, MediaType.OciManifest);
    assert.ok((await c.fetchConfig(ref, arm.manifest.config)).toString().includes('"architecture":"arm64"'));
    const amd = await c.resolve(ref, undefined, { os: 'linux', architecture: 'amd64' });
    assert.equal(amd.manifestDigest, index.images[0]!.manifest.digest);
  });

  it('names the reference when a tag or repository is missing', async () => {
    const c = client();
    await assert.rejects(c.resolve(`${P().host}/test/multi:nope`), isKind('NotFound', new RegExp(`${P().host}/test/multi:nope not found.*MANIFEST_UNKNOWN`)));
    await assert.rejects(c.resolve(`${P().host}/no/such/repo`), isKind('NotFound', new RegExp(`${P().host}/no/such/repo:latest not found`)));
    const missing = { mediaType: MediaType.OciLayerGzip, digest: `sha256:${'0'.repeat(64)}`, size: 3 };
    const file = dest();
    await assert.rejects(c.fetchBlob(`${P().host}/test/multi:v1`, missing, file), isKind('NotFound', /blob sha256:0+ of .* not found/));
    assert.ok(!fs.existsSync(file));
  });

  it('speaks TLS with the CA from caFiles and Basic auth from htpasswd', async () => {
    const ref = `${S().host}/test/multi:v1`;
    const img = multi.images[0]!;
    const c = client({ caFiles: [S().caFile!] });
    const r = await c.resolve(ref, { username: USER, password: PASSWORD });
    assert.equal(r.digest, img.manifest.digest);
    await fetchAndCompare(c, ref, r.manifest.layers[1]!, await fsp.readFile(img.layers[1]!.file), { username: USER, password: PASSWORD });
    // The same credentials as CRI's `auth` field, on a fresh client.
    const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    assert.equal((await client({ caFiles: [S().caFile!] }).resolve(ref, { auth })).digest, img.manifest.digest);
    // An insecure host is not verified.
    assert.equal((await client({ insecure: [S().host] }).resolve(ref, { auth })).digest, img.manifest.digest);
  });

  it('fails clearly without the CA, with a wrong password, and without credentials', async () => {
    const ref = `${S().host}/test/multi:v1`;
    await assert.rejects(
      client().resolve(ref, { username: USER, password: PASSWORD }),
      isKind('Unavailable', new RegExp(`TLS certificate of ${S().host} not trusted`)),
    );
    const c = client({ caFiles: [S().caFile!] });
    await assert.rejects(
      c.resolve(ref, { username: USER, password: 'wrong' }),
      isKind('Unauthenticated', new RegExp(`^unauthorized: ${S().host} rejected the credentials of user "crib"`)),
    );
    await assert.rejects(
      c.resolve(ref),
      isKind('Unauthenticated', new RegExp(`^unauthorized: ${S().host} requires authentication to pull ${S().host}/test/multi`)),
    );
    await assert.rejects(c.resolve(ref, { username: '', password: '', auth: '' }), isKind('Unauthenticated', /^unauthorized: .*no credentials given/));
    // The client still works with the right password afterwards.
    assert.equal((await c.resolve(ref, { username: USER, password: PASSWORD })).digest, multi.images[0]!.manifest.digest);
  });

  it('refuses a blob corrupted in the registry and leaves no file behind', async () => {
    const layout = await buildTestImage(path.join(tmp, 'corrupt'), { layers: [...uniqueImage().layers, ...uniqueImage().layers] }, 'v1');
    await pushLayout(layout, P(), 'test/corrupt');
    const ref = `${P().host}/test/corrupt:v1`;
    const c = client();
    const r = await c.resolve(ref);
    const [flipped, short] = r.manifest.layers as [Descriptor, Descriptor];

    const data = registryBlobPath(P(), flipped.digest);
    const bytes = await fsp.readFile(data);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await fsp.writeFile(data, bytes);
    const file1 = dest();
    await assert.rejects(c.fetchBlob(ref, flipped, file1), isKind('Internal', /^digest mismatch: blob sha256:/));
    assert.ok(!fs.existsSync(file1), 'destFile removed');

    const data2 = registryBlobPath(P(), short.digest);
    await fsp.truncate(data2, short.size - 1000);
    const file2 = dest();
    await assert.rejects(c.fetchBlob(ref, short, file2), /size mismatch/);
    assert.ok(!fs.existsSync(file2), 'destFile removed');
  });

  it('goes through mirrors first, falling through to the next one', async () => {
    const dead = await freePort();
    const img = multi.images[0]!;
    const c = client({ mirrors: { 'example.invalid': [`http://127.0.0.1:${dead}`, `${P().host}`] } });
    const ref = 'example.invalid/test/multi:v1';
    const r = await c.resolve(ref);
    assert.equal(r.digest, img.manifest.digest);
    await fetchAndCompare(c, ref, r.manifest.layers[2]!, await fsp.readFile(img.layers[2]!.file));
    assert.ok((await c.fetchConfig(ref, r.manifest.config)).equals(img.config.bytes));

    // docker.io names (library/ and all) reach the mirror as they are.
    await pushLayout(multi, P(), 'library/busybox', 'latest');
    const hub = client({ mirrors: { 'docker.io': [P().url] } });
    assert.equal((await hub.resolve('busybox')).digest, img.manifest.digest);
  });

  it('pushes blobs and manifests that skopeo then sees', async () => {
    const layout = await buildTestImage(path.join(tmp, 'push'), { ...uniqueImage(), config: { Cmd: ['/bin/true'] } }, 'v1');
    const img = layout.images[0]!;
    const blobs = [img.config, ...img.layers];
    const ref = `${P().host}/test/pushed:v1`;
    const c = client();
    for (const b of blobs) await c.pushBlob(ref, b, b.file);
    for (const b of blobs) await c.pushBlob(ref, b, b.file); // already there: skipped
    assert.equal(await c.pushManifest(ref, img.manifest.bytes, img.manifest.mediaType), img.manifest.digest);
    const seen = JSON.parse(await skopeoInspect(`docker://${ref}`, { tlsVerify: false })) as { Digest: string; Layers: string[]; Architecture: string };
    assert.equal(seen.Digest, img.manifest.digest);
    assert.deepEqual(
      seen.Layers,
      img.layers.map((l) => l.digest),
    );
    const raw = await skopeoInspect(`docker://${ref}`, { tlsVerify: false, raw: true });
    assert.equal(sha256(Buffer.from(raw)), img.manifest.digest);
    // By digest only, then resolvable by digest.
    await c.pushManifest(`${P().host}/test/pushed@${img.manifest.digest}`, img.manifest.bytes, img.manifest.mediaType);
    await assert.rejects(
      c.pushManifest(`${P().host}/test/pushed@${multi.images[0]!.manifest.digest}`, img.manifest.bytes, img.manifest.mediaType),
      isKind('InvalidArgument', /digest mismatch/),
    );
    // A blob whose file does not match its descriptor is refused by the size check or the registry.
    const wrong = { ...img.layers[0]!, digest: sha256(Buffer.from('other')) };
    await assert.rejects(c.pushBlob(ref, wrong, img.layers[0]!.file), (e: unknown) => e instanceof CribError);

    // With TLS and Basic auth (push scope).
    const sref = `${S().host}/test/pushed:v1`;
    const sc = client({ caFiles: [S().caFile!] });
    const creds = { username: USER, password: PASSWORD };
    for (const b of blobs) await sc.pushBlob(sref, b, b.file, creds);
    await sc.pushManifest(sref, img.manifest.bytes, img.manifest.mediaType, creds);
    const sseen = JSON.parse(await skopeoInspect(`docker://${sref}`, { tlsVerify: false, creds: `${USER}:${PASSWORD}` })) as { Digest: string };
    assert.equal(sseen.Digest, img.manifest.digest);
    await assert.rejects(sc.pushManifest(sref, img.manifest.bytes, img.manifest.mediaType), isKind('Unauthenticated', /^unauthorized: .*push to/));
  });

  describe('Bearer tokens', () => {
    const TOKEN_USER = 'bob';
    const TOKEN_PASSWORD = 'hunter2';
    const REFRESH = 'refresh-me';
    const tokenOptions = () => ({ upstream: P().url, user: TOKEN_USER, password: TOKEN_PASSWORD, refreshToken: REFRESH });
    const fronts: TokenRegistry[] = [];
    let proxyHost = '';
    let tokenRequests: TokenRequest[] = [];
    let storageAuth: (string | undefined)[] = [];

    before(async () => {
      const front = await startTokenRegistry({ ...tokenOptions(), staticTokens: ['static-token'] });
      fronts.push(front);
      ({ host: proxyHost, tokenRequests, storageAuth } = front);
    });
    after(async () => {
      for (const f of fronts) await f.close();
    });

    it('gets a token from the realm with Basic credentials, caches it, and keeps it from the blob store', async () => {
      const c = client();
      const ref = `${proxyHost}/test/multi:v1`;
      const creds = { username: TOKEN_USER, password: TOKEN_PASSWORD };
      const img = multi.images[0]!;
      tokenRequests.length = 0;
      storageAuth.length = 0;
      const r = await c.resolve(ref, creds);
      assert.equal(r.digest, img.manifest.digest);
      for (const [i, l] of r.manifest.layers.entries()) await fetchAndCompare(c, ref, l, await fsp.readFile(img.layers[i]!.file), creds);
      assert.ok((await c.fetchConfig(ref, r.manifest.config, creds)).equals(img.config.bytes));
      assert.equal(tokenRequests.length, 1, 'one token for everything');
      assert.deepEqual(tokenRequests[0], {
        method: 'GET',
        authorization: `Basic ${Buffer.from(`${TOKEN_USER}:${TOKEN_PASSWORD}`).toString('base64')}`,
        scope: ['repository:test/multi:pull'],
        service: 'crib-test',
      });
      assert.equal(storageAuth.length, 4, 'every blob came from the blob store');
      assert.deepEqual(storageAuth, [undefined, undefined, undefined, undefined]);
    });

    it('exchanges an identity token, and uses a registry token as it is', async () => {
      tokenRequests.length = 0;
      const ref = `${proxyHost}/test/list:v1`;
      const r = await client().resolve(ref, { identityToken: REFRESH }, { os: 'linux', architecture: 'arm64' });
      assert.equal(r.manifestDigest, list.images[1]!.manifest.digest);
      assert.equal(tokenRequests.length, 1);
      assert.equal(tokenRequests[0]!.method, 'POST');
      assert.equal(tokenRequests[0]!.grant, 'refresh_token');
      assert.deepEqual(tokenRequests[0]!.scope, ['repository:test/list:pull']);

      tokenRequests.length = 0;
      const r2 = await client().resolve(ref, { registryToken: 'static-token' }, { os: 'linux', architecture: 'amd64' });
      assert.equal(r2.manifestDigest, list.images[0]!.manifest.digest);
      assert.equal(tokenRequests.length, 0);
      await assert.rejects(client().resolve(ref, { registryToken: 'forged' }), isKind('Unauthenticated', /^unauthorized: .*rejected the registry token/));
    });

    it('says unauthorized when the token server refuses', async () => {
      const ref = `${proxyHost}/test/multi:v1`;
      await assert.rejects(
        client().resolve(ref, { username: TOKEN_USER, password: 'nope' }),
        isKind('Unauthenticated', new RegExp(`^unauthorized: ${proxyHost} rejected the credentials of user "bob"`)),
      );
      await assert.rejects(client().resolve(ref), isKind('Unauthenticated', /^unauthorized: .*requires authentication/));
    });

    it('sends no credentials to a plain-HTTP realm off this machine unless the registry is listed insecure; anonymous tokens are fine', async () => {
      // A registry whose challenge names a realm on 0.0.0.0: not a loopback name, yet Linux
      // connects it to this machine, so the token server (on 127.0.0.1) still answers.
      const zero = await startTokenRegistry({ ...tokenOptions(), realmHost: '0.0.0.0', anonymousTokens: true });
      fronts.push(zero);
      const host = zero.host;
      const port = host.split(':')[1];
      const seen = () => zero.tokenRequests.map((r) => r.authorization);
      const ref = `${host}/test/multi:v1`;
      const creds = { username: TOKEN_USER, password: TOKEN_PASSWORD };
      const digest = multi.images[0]!.manifest.digest;

      await assert.rejects(
        client().resolve(ref, creds),
        isKind(
          'Unauthenticated',
          new RegExp(
            `^unauthorized: ${host} names the token server "http://0.0.0.0:${port}/token", which is plain HTTP: crib does not send credentials there in clear \\(list ${host} in registries.insecure to allow it\\)$`,
          ),
        ),
      );
      await assert.rejects(client().resolve(ref, { identityToken: REFRESH }), isKind('Unauthenticated', /plain HTTP/));
      assert.deepEqual(seen(), [], 'the token server heard nothing');
      // Anonymous: nothing to leak.
      assert.equal((await client().resolve(ref)).digest, digest);
      assert.deepEqual(seen(), [undefined]);
      // The operator lists the registry (or the realm's host) as insecure: plain HTTP is accepted there.
      assert.equal((await client({ insecure: [host] }).resolve(ref, creds)).digest, digest);
      assert.equal((await client({ insecure: ['0.0.0.0'] }).resolve(ref, creds)).digest, digest);
      assert.deepEqual(seen().slice(1), [
        `Basic ${Buffer.from(`${TOKEN_USER}:${TOKEN_PASSWORD}`).toString('base64')}`,
        `Basic ${Buffer.from(`${TOKEN_USER}:${TOKEN_PASSWORD}`).toString('base64')}`,
      ]);
    });
  });

  it('gives up on a server that stops answering, removing the partial file', async () => {
    const sockets: net.Socket[] = [];
    const digest = sha256(Buffer.alloc(1000));
    const stall = http.createServer((req, res) => {
      if (req.url?.includes('/blobs/')) {
        res.writeHead(200, { 'content-length': '1000' });
        res.write(Buffer.alloc(100)); // then nothing
        return;
      }
      // Manifests: never answer.
    });
    stall.on('connection', (s) => sockets.push(s));
    servers.push(stall);
    await new Promise<void>((r) => stall.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(stall.address() as net.AddressInfo).port}`;
    const c = client({}, 500);
    const t0 = Date.now();
    await assert.rejects(c.resolve(`${host}/a:b`), isKind('Unavailable', /no answer for 0.5 s/));
    const file = dest();
    await assert.rejects(
      c.fetchBlob(`${host}/a:b`, { mediaType: MediaType.OciLayer, digest, size: 1000 }, file),
      isKind('Unavailable', /size mismatch: .* ended after 100 of 1000 bytes/),
    );
    assert.ok(!fs.existsSync(file));
    assert.ok(Date.now() - t0 < 10_000);
    for (const s of sockets) s.destroy();
  });
});

describe('registry client: hostile answers', () => {
  let fake: FakeRegistry | undefined;
  const clients: RegistryClient[] = [];
  const F = () => fake as FakeRegistry;
  const client = (): RegistryClient => {
    const c = new RegistryClient(config());
    clients.push(c);
    return c;
  };
  const MiB = 1 << 20;
  /** Bytes the process holds, JS heap and buffers. */
  const held = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  /** An answer of `total` bytes (64 MiB by default) in 1 MiB pieces, stopping when the client hangs up. */
  const flood =
    (total = 64 * MiB) =>
    (req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      let sent = 0;
      const more = () => {
        while (sent < total && !res.destroyed) {
          sent += MiB;
          if (!res.write(Buffer.alloc(MiB, 0x20))) return void res.once('drain', more);
        }
        res.end();
      };
      req.socket.on('close', () => (sent = total));
      more();
    };

  before(async () => {
    fake = await startFakeRegistry();
  });
  after(async () => {
    for (const c of clients) c.close();
    await fake?.close();
  });

  it('refuses a config the manifest says is larger than 8 MiB, without asking for it', async () => {
    const img = fakeImage([]);
    const desc = { ...(img.manifest.config as Descriptor), size: 2 ** 40 };
    img.manifest.config = desc;
    F().serveImage('evil/bigconfig', '1', img);
    F().answers.set(`/v2/evil/bigconfig/blobs/${desc.digest}`, flood());
    const ref = `${F().host}/evil/bigconfig:1`;
    const c = client();
    const r = await c.resolve(ref);
    assert.equal(r.manifest.config.size, 2 ** 40);
    const before = held();
    await assert.rejects(
      c.fetchConfig(ref, r.manifest.config),
      isKind('InvalidArgument', /^image config sha256:[a-f0-9]{64} of .* is 1099511627776 bytes, more than the 8388608 crib takes$/),
    );
    assert.deepEqual(
      F().requests.filter((p) => p.includes('/blobs/')),
      [],
      'the config was not asked for',
    );
    assert.ok(held() - before < 16 * MiB, `memory grew by ${(held() - before) / MiB} MiB`);
  });

  it('stops reading a manifest at 8 MiB', async () => {
    F().answers.set('/v2/evil/endless/manifests/1', flood());
    const before = held();
    await assert.rejects(
      client().resolve(`${F().host}/evil/endless:1`),
      isKind('InvalidArgument', /evil\/endless:1 from .* is larger than the 8388608 bytes crib takes/),
    );
    assert.ok(held() - before < 32 * MiB, `memory grew by ${(held() - before) / MiB} MiB`);
  });

  it('refuses descriptors whose digest or size it cannot use, before building a URL of them', async () => {
    const bad = (repo: string, patch: (m: Record<string, unknown>) => void) => {
      const img = fakeImage([]);
      patch(img.manifest);
      F().serveImage(repo, '1', img);
      return `${F().host}/${repo}:1`;
    };
    const D = `sha256:${'a'.repeat(64)}`;
    const layer =
      (digest: string, size = 1) =>
      (m: Record<string, unknown>) =>
        (m.layers = [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size }]);
    const c = client();
    F().requests.length = 0;
    await assert.rejects(
      c.resolve(bad('evil/dotdot', layer('sha256:../../../../etc/passwd'))),
      isKind('InvalidArgument', /layers\[0\]\.digest: malformed digest "sha256:..\/..\/..\/..\/etc\/passwd"/),
    );
    await assert.rejects(
      c.resolve(bad('evil/sha512', layer(`sha512:${'b'.repeat(128)}`))),
      isKind('InvalidArgument', /unsupported digest algorithm "sha512" \(only sha256 is supported\)/),
    );
    await assert.rejects(c.resolve(bad('evil/negative', layer(D, -5))), isKind('InvalidArgument', /layers\[0\]\.size must be a non-negative integer/));
    await assert.rejects(c.resolve(bad('evil/huge', layer(D, 2 ** 60))), isKind('InvalidArgument', /layers\[0\]\.size must be a non-negative integer/));
    const index = {
      body: Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: [
            { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:../x', size: 1, platform: { os: 'linux', architecture: 'amd64' } },
          ],
        }),
      ),
      contentType: 'application/vnd.oci.image.index.v1+json',
    };
    F().answers.set('/v2/evil/index/manifests/1', index);
    await assert.rejects(c.resolve(`${F().host}/evil/index:1`), isKind('InvalidArgument', /manifests\[0\]\.digest: malformed digest/));
    assert.deepEqual(
      F().requests.filter((p) => !/^\/v2\/evil\/[a-z0-9]+\/manifests\/1$/.test(p)),
      [],
      'only the manifests were asked for',
    );
  });
});
