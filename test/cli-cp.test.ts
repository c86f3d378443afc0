// crib cp on the real CLI against a real pod, as kubectl cp: to and from a container through tar in
// it, -c, a container with no tar, and a container whose "tar" sends an archive built to escape.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { call } from '../src/client/client.js';
import type { ContainerConfig } from '../src/cri/generated/runtime/v1/ContainerConfig.js';
import { TEST_IMAGE, cribdWithBusybox } from '../support/busybox-image.js';
import { cribCli } from './support/crib-cli.js';
import { makeTar } from './support/tar.js';

describe('crib cp', () => {
  const h = cribdWithBusybox({ shared: true });
  const cli = cribCli(h);
  let dir = '';

  async function ok(args: string[]): Promise<string> {
    const r = await cli.crib(args);
    assert.equal(r.code, 0, `crib ${args.join(' ')} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(h.base, 'cp-'));
    const id = await h.runPod('files');
    // main: a plain busybox; notar: its tar removed; evil: its tar replaced by a script (in the test)
    for (const name of ['main', 'notar', 'evil']) {
      const config: ContainerConfig = { metadata: { name, attempt: 0 }, image: { image: TEST_IMAGE }, command: ['sleep', '3600'], log_path: `${name}.log` };
      const c = (await call(h.runtime, 'CreateContainer', { pod_sandbox_id: id, config, sandbox_config: h.podConfig('files') })).container_id;
      await call(h.runtime, 'StartContainer', { container_id: c });
    }
    await ok(['exec', 'files', '-c', 'notar', '--', 'rm', '/bin/tar']);
  });
  after(() => cli.killAll());

  it('copies a directory into a container and back, and a file out of it', async () => {
    const src = path.join(dir, 'site');
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(src, 'index.html'), 'hello\n');
    fs.writeFileSync(path.join(src, 'sub', 'big.bin'), Buffer.alloc(3 * 1024 * 1024, 7));
    await ok(['cp', src, 'files:/tmp/site', '-c', 'main']);
    assert.match(
      await ok(['exec', 'files', '-c', 'main', '--', 'md5sum', '/tmp/site/sub/big.bin']),
      /^1dc9719247f1c59ffa4bd1bc78da7dd7 /,
      'the 3 MiB file arrived whole',
    );
    assert.equal(await ok(['exec', 'files', '-c', 'main', '--', 'cat', '/tmp/site/index.html']), 'hello\n');
    // into a directory that is there: SRC goes inside it, as kubectl cp
    await ok(['cp', '-c', 'main', path.join(src, 'index.html'), 'files:/etc']);
    assert.equal(await ok(['exec', 'files', '-c', 'main', '--', 'cat', '/etc/index.html']), 'hello\n');

    const back = path.join(dir, 'back');
    await ok(['cp', '-c', 'main', 'files:/tmp/site', back]);
    assert.deepEqual((fs.readdirSync(back, { recursive: true }) as string[]).sort(), ['index.html', 'sub', 'sub/big.bin']);
    assert.equal(fs.readFileSync(path.join(back, 'index.html'), 'utf8'), 'hello\n');
    assert.ok(fs.readFileSync(path.join(back, 'sub', 'big.bin')).equals(Buffer.alloc(3 * 1024 * 1024, 7)));
    await ok(['cp', 'files/main:/etc/hostname', path.join(dir, 'hostname')]);
    assert.equal(fs.readFileSync(path.join(dir, 'hostname'), 'utf8'), 'files\n');

    const missing = await cli.crib(['cp', '-c', 'main', 'files:/no/such', path.join(dir, 'x')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /tar in the container failed \(exit 1\): .*no\/such/);
    const noDir = await cli.crib(['cp', '-c', 'main', src, 'files:/no/such']);
    assert.equal(noDir.code, 1);
    assert.match(noDir.stderr, /tar in the container failed \(exit 1\): .*\/no'?: No such file/, "as kubectl's, tar -C a missing directory fails");
  });

  it('says so when the container has no tar', async () => {
    fs.writeFileSync(path.join(dir, 'hostname'), 'local\n');
    for (const args of [
      ['cp', '-c', 'notar', 'files:/etc/hostname', path.join(dir, 'h2')],
      ['cp', '-c', 'notar', path.join(dir, 'hostname'), 'files:/tmp/h'],
    ]) {
      const r = await cli.crib(args);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /crib cp runs tar in the container, as kubectl cp does, and container "notar" has none/);
    }
  });

  it('keeps a hostile archive from the container below DEST', async () => {
    const outside = path.join(dir, 'outside');
    fs.mkdirSync(outside);
    const hostile = path.join(dir, 'hostile.tar');
    fs.writeFileSync(
      hostile,
      makeTar([
        { path: 'data/', type: '5' },
        { path: 'data/ok', data: 'fine\n' },
        { path: 'data/link', type: '2', linkpath: outside },
        { path: 'data/link/planted', data: 'through the link\n' },
        { path: 'data/../outside/escaped', data: 'escaped\n' },
      ]),
    );
    await ok(['cp', '-c', 'evil', hostile, 'files:/hostile.tar']);
    await ok(['exec', 'files', '-c', 'evil', '--', 'sh', '-c', 'rm /bin/tar && printf "#!/bin/sh\\ncat /hostile.tar\\n" > /bin/tar && chmod +x /bin/tar']);
    const dest = path.join(dir, 'got');
    const r = await cli.crib(['cp', '-c', 'evil', 'files:/data', dest]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /warning: skipping symlink: .*link/);
    assert.match(r.stderr, /names "data\/\.\.\/outside\/escaped", a "\.\." component: refused/);
    assert.deepEqual(fs.readdirSync(outside), [], 'nothing reached the directory beside DEST');
    assert.deepEqual((fs.readdirSync(dest, { recursive: true }) as string[]).sort(), ['link', 'link/planted', 'ok']);
    assert.equal(fs.lstatSync(path.join(dest, 'link')).isDirectory(), true, 'a real directory, not the planted link');
  });
});
