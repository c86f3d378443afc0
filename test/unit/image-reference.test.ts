// Pure pieces of image pulling: references, manifests, platforms, auth headers. No root, no network.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatReference, isLoopbackHost, manifestReference, parseReference, referenceName, registryHost, splitHostPort } from '../../src/image/reference.js';
import {
  defaultPlatform,
  layerCompression,
  isForeignLayer,
  MediaType,
  parseManifestOrIndex,
  selectPlatform,
  type ImageIndex,
} from '../../src/image/manifest.js';
import { parseImageConfig } from '../../src/image/image-config.js';
import { credentialsKey, parseTokenResponse, parseWwwAuthenticate, TokenCache, userPassword } from '../../src/image/registry/auth.js';
import { CribError } from '../../src/util/errors.js';

const D = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;

describe('image references', () => {
  const table: [string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['user/app', 'docker.io/user/app:latest'],
    ['user/app/sub:v1', 'docker.io/user/app/sub:v1'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/user/app:x', 'docker.io/user/app:x'],
    ['registry-1.docker.io/library/busybox', 'docker.io/library/busybox:latest'],
    ['registry.k8s.io/pause:3.9', 'registry.k8s.io/pause:3.9'],
    ['localhost/crib/pause:0.1.0', 'localhost/crib/pause:0.1.0'],
    ['localhost:5000/app', 'localhost:5000/app:latest'],
    ['127.0.0.1:5000/a/b', '127.0.0.1:5000/a/b:latest'],
    ['[::1]:5000/a', '[::1]:5000/a:latest'],
    ['quay.io/a_b/c__d/e-f/g.h--i:tag_1.2-x', 'quay.io/a_b/c__d/e-f/g.h--i:tag_1.2-x'],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`],
    [`busybox:1.36@${D}`, `docker.io/library/busybox:1.36@${D}`],
    [`host:5000/a:t@${D}`, `host:5000/a:t@${D}`],
    ['ghcr.io/org/img:v1.0', 'ghcr.io/org/img:v1.0'],
    ['a.b', 'docker.io/library/a.b:latest'],
    ['a-bc/de.fg', 'docker.io/a-bc/de.fg:latest'],
    // A first component with capitals can only be a host (repository names are lowercase).
    ['Registry/app', 'Registry/app:latest'],
    ['h:65535/a', 'h:65535/a:latest'],
    [`x.io/${'a'.repeat(250)}`, `x.io/${'a'.repeat(250)}:latest`],
  ];
  for (const [input, want] of table) {
    it(`${input} -> ${want}`, () => assert.equal(formatReference(parseReference(input)), want));
  }

  it('splits into fields', () => {
    assert.deepEqual(parseReference('busybox'), { registry: 'docker.io', repository: 'library/busybox', tag: 'latest' });
    assert.deepEqual(parseReference(`h:1/r:t@${D}`), { registry: 'h:1', repository: 'r', tag: 't', digest: D });
    assert.deepEqual(parseReference(`h:1/r@${D}`), { registry: 'h:1', repository: 'r', digest: D });
  });

  it('fetches by digest when there is one', () => {
    assert.equal(manifestReference(parseReference(`a:t@${D}`)), D);
    assert.equal(manifestReference(parseReference('a:t')), 't');
  });

  const bad: [string, RegExp][] = [
    ['', /: empty$/],
    [' a', /: contains whitespace$/],
    ['a\u00a0', /: contains whitespace$/],
    ['\ufeffa', /: contains whitespace$/],
    ['a\tb', /: contains whitespace$/],
    [':t', /: no repository name$/],
    [`@${D}`, /: no repository name$/],
    ['h.io/', /: no repository name$/],
    ['/a', /empty path component/],
    ['Busybox', /repository name must be lowercase/],
    ['docker.io/User/app', /repository name must be lowercase/],
    ['a//b', /empty path component/],
    ['a/', /empty path component/],
    ['a:', /invalid tag/],
    ['a:-x', /invalid tag/],
    [`a:${'x'.repeat(129)}`, /invalid tag/],
    ['a b', /whitespace/],
    ['a_-b', /invalid path component/],
    ['a___b', /invalid path component/],
    ['-a', /invalid path component/],
    ['a@sha256:abc', /64 lowercase hex/],
    [`a@sha256:${'A'.repeat(64)}`, /64 lowercase hex/],
    [`a@sha512:${'a'.repeat(128)}`, /unsupported digest algorithm "sha512"/],
    ['a@nonsense', /malformed digest/],
    ['a@-sha256:abc', /malformed digest/],
    ['a@sha256:abc!', /malformed digest/],
    ['a@x+1:abc', /malformed digest/],
    ['a@x+yzw:abc', /unsupported digest algorithm "x\+yzw"/],
    [`a@xsha256:${'a'.repeat(64)}`, /unsupported digest algorithm "xsha256"/],
    [`a@sha256:${'a'.repeat(65)}`, /64 lowercase hex/],
    ['[1:2::3]:70000/a', /invalid port/],
    ['h:65536/a', /invalid port/],
    ['https://registry/a', /scheme/],
    ['host:99999/a', /invalid port/],
    ['bad_host.com/a', /invalid registry host/],
    [`x/${'a'.repeat(260)}`, /longer than 255/],
    [`x.io/${'a'.repeat(251)}`, /longer than 255/],
  ];
  for (const [input, why] of bad) {
    it(`rejects ${JSON.stringify(input.length > 40 ? input.slice(0, 40) + '…' : input)}`, () =>
      assert.throws(
        () => parseReference(input),
        (e: unknown) => e instanceof CribError && e.kind === 'InvalidArgument' && why.test(e.message),
      ));
  }

  it("refuses a reference that is not a string (an archive's JSON may hold any value)", () => {
    for (const v of [undefined, null, 42, ['busybox']]) {
      assert.throws(
        () => parseReference(v as unknown as string),
        (e: unknown) => e instanceof CribError && e.kind === 'InvalidArgument',
        String(v),
      );
    }
  });

  it('maps docker.io to its API host', () => {
    assert.equal(registryHost('docker.io'), 'registry-1.docker.io');
    assert.equal(registryHost('index.docker.io'), 'registry-1.docker.io');
    assert.equal(registryHost('quay.io'), 'quay.io');
    assert.equal(registryHost('127.0.0.1:5000'), '127.0.0.1:5000');
  });

  it('names a repository without tag or digest', () => {
    assert.equal(referenceName(parseReference(`busybox:1@${D}`)), 'docker.io/library/busybox');
  });

  it('splits host and port, IPv6 in brackets', () => {
    assert.deepEqual(splitHostPort('[::1]:5000'), { host: '::1', port: '5000' });
    assert.deepEqual(splitHostPort('[::1]'), { host: '::1' });
    assert.deepEqual(splitHostPort('h:1'), { host: 'h', port: '1' });
    assert.deepEqual(splitHostPort('h'), { host: 'h' });
    assert.deepEqual(splitHostPort('::1'), { host: '::1' });
    assert.deepEqual(splitHostPort('x[::1]:5'), { host: 'x[::1]:5' });
    assert.deepEqual(splitHostPort('[::1]:5x'), { host: '[::1]:5x' });
  });

  it('knows loopback hosts', () => {
    for (const h of [
      'localhost',
      'localhost:5000',
      ' localhost ',
      '127.0.0.1',
      '127.0.0.1:5000',
      '127.1.2.3:1',
      '127.10.200.1',
      '127.0.0.255',
      '[::1]',
      '[::1]:5000',
      '::1',
      '0:0:0:0:0:0:0:1',
      '0000:0000:0000:0000:0000:0000:0000:0001',
      'LOCALHOST',
      // Go's IsLoopback, which containerd's MatchLocalhost asks: 127/8 mapped into IPv6 too.
      '0::1',
      '[::ffff:127.0.0.1]:5000',
      '::ffff:7f00:1',
    ]) {
      assert.ok(isLoopbackHost(h), h);
    }
    for (const h of [
      'docker.io',
      '128.0.0.1',
      '10.0.0.1:5000',
      '[::2]:5000',
      'localhost.example.com',
      '127.0.0.256',
      'mylocalhost',
      'a127.0.0.1',
      '127.0.0.1.5',
      'x0:0:0:0:0:0:0:1',
      '0:0:0:0:0:0:0:11',
      '0:1',
      '::127.0.0.1',
      // Leading zeros: Go's ParseIP (containerd) takes none; the resolver (inet_aton) reads 0127 as
      // octal, so 0127.0.0.1 is 87.0.0.1, and sends 127.0.0.08 (no octal) to DNS as a name.
      '0127.0.0.1',
      '0127.0.0.1:5000',
      '127.0.0.01',
      '127.000.000.001',
      '127.0.0.08',
      // A trailing dot: not in /etc/hosts, so a DNS name (containerd: not loopback either).
      'localhost.',
      '127.0.0.1.',
      // Other notations inet_aton reads: not addresses to ParseIP.
      '127.1',
      '0x7f.0.0.1',
    ]) {
      assert.ok(!isLoopbackHost(h), h);
    }
  });
});

describe('manifests', () => {
  const manifest = (mediaType?: string) => ({
    schemaVersion: 2,
    ...(mediaType ? { mediaType } : {}),
    config: { mediaType: MediaType.OciConfig, digest: D, size: 10 },
    layers: [{ mediaType: MediaType.OciLayerGzip, digest: D2, size: 20 }],
  });
  const buf = (o: unknown) => Buffer.from(JSON.stringify(o));

  it('parses an OCI manifest, also without mediaType (from the header or the shape)', () => {
    for (const [doc, header] of [
      [manifest(MediaType.OciManifest), undefined],
      [manifest(), MediaType.OciManifest],
      [manifest(), undefined],
    ] as const) {
      const p = parseManifestOrIndex(buf(doc), header);
      assert.equal(p.kind, 'manifest');
      if (p.kind !== 'manifest') return;
      assert.equal(p.manifest.mediaType, MediaType.OciManifest);
      assert.deepEqual(p.manifest.config, { mediaType: MediaType.OciConfig, digest: D, size: 10 });
      assert.equal(p.manifest.layers.length, 1);
    }
  });

  it('parses a Docker manifest list with a charset in the header', () => {
    const doc = {
      schemaVersion: 2,
      manifests: [{ mediaType: MediaType.DockerManifest, digest: D, size: 5, platform: { os: 'linux', architecture: 'amd64' } }],
    };
    const p = parseManifestOrIndex(buf(doc), `${MediaType.DockerManifestList}; charset=utf-8`);
    assert.equal(p.kind, 'index');
    if (p.kind === 'index') assert.equal(p.index.mediaType, MediaType.DockerManifestList);
  });

  it('refuses what it cannot use, as InvalidArgument naming the field, never quoting what it read', () => {
    const invalid = (re: RegExp) => (e: unknown) => e instanceof CribError && e.kind === 'InvalidArgument' && re.test(e.message);
    const secret = 'root:x:0:0:root:/root:/bin/bash\n';
    assert.throws(
      () => parseManifestOrIndex(Buffer.from(secret)),
      (e: unknown) => invalid(/^invalid manifest: the document is not valid JSON/)(e) && !(e as Error).message.includes('root:'),
    );
    assert.throws(() => parseManifestOrIndex(buf([])), invalid(/not a JSON object/));
    const layer = (digest: unknown, size: unknown = 1) => buf({ ...manifest(MediaType.OciManifest), layers: [{ mediaType: 'x', digest, size }] });
    assert.throws(() => parseManifestOrIndex(layer('sha256:1')), invalid(/layers\[0\]\.digest: a sha256 digest is 64 lowercase hex digits/));
    assert.throws(() => parseManifestOrIndex(layer('sha256:../../etc/passwd')), invalid(/layers\[0\]\.digest: malformed digest "sha256:..\/..\/etc\/passwd"/));
    assert.throws(
      () => parseManifestOrIndex(layer(`sha512:${'a'.repeat(128)}`)),
      invalid(/unsupported digest algorithm "sha512" \(only sha256 is supported\)/),
    );
    assert.throws(
      () => parseManifestOrIndex(layer(`sha256:${'../'.repeat(100_000)}`)),
      (e: unknown) => invalid(/malformed digest/)(e) && (e as Error).message.length < 400,
    );
    for (const size of [-1, 1.5, 2 ** 53, '10', null]) {
      assert.throws(() => parseManifestOrIndex(layer(D, size)), invalid(/layers\[0\]\.size must be a non-negative integer/), String(size));
    }
    assert.throws(
      () => parseManifestOrIndex(buf({ ...manifest(MediaType.OciManifest), config: { mediaType: 'x', digest: D, size: -1 } })),
      invalid(/config\.size/),
    );
    assert.throws(() => parseManifestOrIndex(buf({ ...manifest(MediaType.OciManifest), schemaVersion: 3 })), invalid(/schemaVersion is not 2/));
    const layers = (n: number) =>
      buf({ ...manifest(MediaType.OciManifest), layers: Array.from({ length: n }, () => ({ mediaType: MediaType.OciLayer, digest: D2, size: 1 })) });
    assert.equal((parseManifestOrIndex(layers(500)) as { manifest: { layers: unknown[] } }).manifest.layers.length, 500);
    assert.throws(() => parseManifestOrIndex(layers(501)), invalid(/501 layers, more than the 500 overlayfs can stack/));
    assert.throws(
      () => parseManifestOrIndex(buf({ schemaVersion: 2, manifests: [{ mediaType: MediaType.OciManifest, digest: 'sha256:/etc', size: 1 }] })),
      invalid(/manifests\[0\]\.digest/),
    );
    assert.throws(
      () => parseManifestOrIndex(buf({ schemaVersion: 1, name: 'x', fsLayers: [] }), MediaType.DockerSchema1Signed),
      (e: unknown) => e instanceof CribError && e.kind === 'Unimplemented' && /schema 1/.test(e.message),
    );
  });

  it('knows layer compressions', () => {
    assert.equal(layerCompression(MediaType.DockerLayerGzip), 'gzip');
    assert.equal(layerCompression(MediaType.OciLayerZstd), 'zstd');
    assert.equal(layerCompression(MediaType.OciLayer), 'none');
    assert.equal(layerCompression(MediaType.DockerForeignLayerGzip), 'gzip');
    assert.equal(layerCompression(MediaType.OciNondistributableLayerGzip), 'gzip');
    assert.equal(layerCompression('application/octet-stream'), undefined);
    assert.ok(isForeignLayer(MediaType.DockerForeignLayerGzip));
    assert.ok(isForeignLayer(MediaType.OciNondistributableLayer));
    assert.ok(!isForeignLayer(MediaType.OciLayerGzip));
  });
});

describe('image configs', () => {
  const cfg = (o: unknown) => Buffer.from(JSON.stringify(o));
  const invalid = (re: RegExp) => (e: unknown) => e instanceof CribError && e.kind === 'InvalidArgument' && re.test(e.message);

  it('keeps the runtime fields crib uses, and the diff_ids', () => {
    const parsed = parseImageConfig(
      cfg({
        architecture: 'amd64',
        config: { Entrypoint: ['/bin/sh'], Cmd: null, Env: ['A=1'], WorkingDir: '/w', User: '1000', StopSignal: 'SIGINT', Labels: { a: 'b' } },
        rootfs: { type: 'layers', diff_ids: [D, D2] },
      }),
      'config',
    );
    assert.deepEqual(parsed, { config: { Entrypoint: ['/bin/sh'], Env: ['A=1'], WorkingDir: '/w', User: '1000', StopSignal: 'SIGINT' }, diffIds: [D, D2] });
    assert.deepEqual(parseImageConfig(cfg({}), 'config'), { config: {}, diffIds: [] });
  });

  it('refuses fields of the wrong type and diff_ids that are not sha256 digests, never quoting the content', () => {
    assert.throws(
      () => parseImageConfig(Buffer.from('secret-content-of-a-host-file'), 'image config X'),
      (e: unknown) => invalid(/^image config X is not valid JSON/)(e) && !(e as Error).message.includes('secret'),
    );
    assert.throws(() => parseImageConfig(cfg([]), 'c'), invalid(/^c: the document: not a JSON object$/));
    assert.throws(() => parseImageConfig(cfg({ config: { Env: 'A=1' } }), 'c'), invalid(/^c: config\.Env: not a list of strings$/));
    assert.throws(() => parseImageConfig(cfg({ config: { Cmd: ['a', 1] } }), 'c'), invalid(/config\.Cmd: not a list of strings/));
    assert.throws(() => parseImageConfig(cfg({ config: { User: 0 } }), 'c'), invalid(/config\.User: not a string/));
    assert.throws(() => parseImageConfig(cfg({ config: 'x' }), 'c'), invalid(/c: config: not an object/));
    assert.throws(() => parseImageConfig(cfg({ rootfs: { diff_ids: D } }), 'c'), invalid(/rootfs\.diff_ids: not a list/));
    assert.throws(
      () => parseImageConfig(cfg({ rootfs: { diff_ids: [D, '../../etc'] } }), 'c'),
      invalid(/^c: rootfs\.diff_ids\[1\]: malformed digest "..\/..\/etc"$/),
    );
    assert.throws(() => parseImageConfig(cfg({ rootfs: { diff_ids: [`sha512:${'a'.repeat(128)}`] } }), 'c'), invalid(/unsupported digest algorithm "sha512"/));
  });
});

describe('platform selection', () => {
  const entry = (n: number, os: string, architecture: string, variant?: string, mediaType: string = MediaType.OciManifest) => ({
    mediaType,
    digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
    size: 1,
    platform: variant ? { os, architecture, variant } : { os, architecture },
  });
  const index: ImageIndex = {
    mediaType: MediaType.OciIndex,
    manifests: [
      entry(0, 'unknown', 'unknown'),
      entry(1, 'linux', 'amd64'),
      entry(2, 'linux', 'arm64', 'v8'),
      entry(3, 'linux', 'arm', 'v6'),
      entry(4, 'linux', 'arm', 'v7'),
      entry(5, 'windows', 'amd64'),
      entry(6, 'linux', 's390x'),
    ],
  };
  const pick = (os: string, architecture: string, variant?: string) =>
    selectPlatform(index, variant ? { os, architecture, variant } : { os, architecture }).digest[7];

  it('matches os, architecture and variant', () => {
    assert.equal(pick('linux', 'amd64'), '1');
    assert.equal(pick('linux', 'arm64'), '2');
    assert.equal(pick('linux', 'arm64', 'v8'), '2');
    assert.equal(pick('linux', 'aarch64'), '2');
    assert.equal(pick('linux', 'x86_64'), '1');
    assert.equal(pick('linux', 'arm', 'v7'), '4');
    assert.equal(pick('linux', 'arm'), '4');
    assert.equal(pick('linux', 'arm', 'v6'), '3');
    assert.equal(pick('windows', 'amd64'), '5');
  });

  it('lets arm v8 run v7 and arm64 manifests without a variant count as v8', () => {
    assert.equal(pick('linux', 'arm', 'v8'), '4');
    const plain: ImageIndex = { mediaType: MediaType.OciIndex, manifests: [entry(7, 'linux', 'arm64')] };
    assert.equal(selectPlatform(plain, { os: 'linux', architecture: 'arm64', variant: 'v8' }).digest[7], '7');
  });

  it('says which platforms there are when none fits', () => {
    assert.throws(
      () => selectPlatform(index, { os: 'linux', architecture: 'riscv64' }),
      (e: unknown) =>
        e instanceof CribError &&
        e.kind === 'NotFound' &&
        e.message === 'no image for platform linux/riscv64 (available: linux/amd64, linux/arm64/v8, linux/arm/v6, linux/arm/v7, windows/amd64, linux/s390x)',
    );
    assert.throws(() => pick('linux', 'arm', 'v5'), /no image for platform linux\/arm\/v5/);
    // An index of many (long) platforms: a few are named, each cut short.
    const many: ImageIndex = {
      mediaType: MediaType.OciIndex,
      manifests: Array.from({ length: 1000 }, (_, i) => entry(i % 10, 'linux', `arch${i}${'x'.repeat(i)}`)),
    };
    assert.throws(
      () => selectPlatform(many, { os: 'linux', architecture: 'riscv64' }),
      (e: unknown) => {
        const m = (e as Error).message;
        return m.length < 2000 && m.includes('linux/arch0, linux/arch1') && m.endsWith(', 984 more)');
      },
    );
  });

  it('skips entries that are not image manifests', () => {
    const nested: ImageIndex = {
      mediaType: MediaType.OciIndex,
      manifests: [entry(8, 'linux', 'amd64', undefined, MediaType.OciIndex), entry(9, 'linux', 'amd64')],
    };
    assert.equal(selectPlatform(nested, { os: 'linux', architecture: 'amd64' }).digest[7], '9');
  });

  it('defaults to this machine', () => {
    assert.deepEqual(defaultPlatform('x64', 'linux'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(defaultPlatform('arm64', 'linux'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.deepEqual(defaultPlatform('arm', 'linux'), { os: 'linux', architecture: 'arm', variant: 'v7' });
    const mine = defaultPlatform();
    assert.equal(mine.os, 'linux');
    if (process.arch === 'x64') assert.equal(selectPlatform(index).digest[7], '1');
  });
});

describe('registry auth pieces', () => {
  it('parses Bearer challenges with quoted and unquoted parameters', () => {
    assert.deepEqual(parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), [
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
    ]);
    assert.deepEqual(parseWwwAuthenticate('bearer Realm=https://x/token, service=svc,  error="insufficient_scope"'), [
      { scheme: 'bearer', params: { realm: 'https://x/token', service: 'svc', error: 'insufficient_scope' } },
    ]);
    assert.deepEqual(parseWwwAuthenticate('Bearer realm="a \\"quoted\\", value",scope="repository:a:pull repository:b:pull"'), [
      { scheme: 'bearer', params: { realm: 'a "quoted", value', scope: 'repository:a:pull repository:b:pull' } },
    ]);
  });

  it('parses Basic and several challenges in one header', () => {
    assert.deepEqual(parseWwwAuthenticate('Basic realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
    assert.deepEqual(parseWwwAuthenticate('Basic realm="r", Bearer realm="https://t/",service="s"'), [
      { scheme: 'basic', params: { realm: 'r' } },
      { scheme: 'bearer', params: { realm: 'https://t/', service: 's' } },
    ]);
    assert.deepEqual(parseWwwAuthenticate('Negotiate abc==, Basic'), [
      { scheme: 'negotiate', params: {}, token68: 'abc==' },
      { scheme: 'basic', params: {} },
    ]);
    assert.deepEqual(parseWwwAuthenticate(''), []);
    assert.deepEqual(parseWwwAuthenticate('Bearer'), [{ scheme: 'bearer', params: {} }]);
  });

  it('reads credentials from user/password or auth', () => {
    assert.deepEqual(userPassword({ username: 'u', password: 'p' }), { username: 'u', password: 'p' });
    assert.deepEqual(userPassword({ auth: Buffer.from('u:p:q').toString('base64') }), { username: 'u', password: 'p:q' });
    assert.equal(userPassword({ username: '', password: '', auth: '' }), undefined);
    assert.equal(userPassword(undefined), undefined);
    assert.throws(
      () => userPassword({ auth: Buffer.from('nocolon').toString('base64') }),
      (e: unknown) => e instanceof CribError && e.kind === 'InvalidArgument',
    );
    assert.equal(credentialsKey({ username: '', password: '' }), 'anonymous');
    assert.notEqual(credentialsKey({ username: 'a', password: 'b' }), credentialsKey({ username: 'a', password: 'c' }));
  });

  it('reads token answers and caches tokens until shortly before they expire', () => {
    assert.deepEqual(parseTokenResponse(Buffer.from('{"token":"t","expires_in":300}')), { token: 't', expiresIn: 300 });
    assert.deepEqual(parseTokenResponse(Buffer.from('{"access_token":"a"}')), { token: 'a', expiresIn: 60 });
    assert.throws(() => parseTokenResponse(Buffer.from('{}')), /without a token/);
    let now = 1000;
    const cache = new TokenCache(() => now);
    cache.set('k', 'tok', 60);
    assert.equal(cache.get('k'), 'tok');
    now += 53_000;
    assert.equal(cache.get('k'), 'tok');
    now += 2_000;
    assert.equal(cache.get('k'), undefined);
  });
});
