import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { after, afterEach, before } from 'node:test';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import * as tar from 'tar';
import { call } from '../src/client/client.js';
import { Harness } from './harness.js';
import { BUSYBOX_BIN, buildTestImage, type TarEntry } from './registry.js';

/** A small but complete userland: busybox with every applet, a passwd with root and `app` (1000). */
export function fullBusyboxEntries(): TarEntry[] {
  const applets = execFileSync(BUSYBOX_BIN, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((a) => a && a !== 'busybox' && !a.includes('['));
  return [
    { path: 'bin', type: 'dir' },
    { path: 'bin/busybox', content: fs.readFileSync(BUSYBOX_BIN), mode: 0o755 },
    ...applets.map((a): TarEntry => ({ path: `bin/${a}`, type: 'symlink', target: 'busybox' })),
    { path: 'etc', type: 'dir' },
    { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' },
    { path: 'etc/group', content: 'root:x:0:\napp:x:1000:\nextra:x:2000:app\nnogroup:x:65534:\n' },
    { path: 'tmp', type: 'dir', mode: 0o1777 },
    { path: 'www', type: 'dir' },
    { path: 'www/index.html', content: 'hello from the web container\n' },
  ];
}

/** Builds that image and imports it into the harness's cribd (crib.v1.Images/Import): no registry needed. */
export async function importBusybox(h: Harness, name = 'localhost/test/busybox:1', config: Record<string, unknown> = {}): Promise<string> {
  const dir = path.join(h.base, `image-${name.replace(/[^\w]/g, '_')}`);
  const tag = name.slice(name.lastIndexOf(':') + 1);
  const layout = await buildTestImage(dir, { layers: [{ entries: fullBusyboxEntries() }], config: { Cmd: ['/bin/sh'], ...config } }, tag);
  const file = `${dir}.tar`;
  await tar.c({ cwd: layout.dir, file }, await fsp.readdir(layout.dir));
  await call(h.client.cribImages, 'Import', { path: file, name });
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.rm(file, { force: true });
  return name;
}

/** The image the pod tests run: fullBusyboxEntries under this name. */
export const TEST_IMAGE = 'localhost/test/busybox:1';

/**
 * A cribd of the test file's own with the busybox image, for the tests of one `describe`: started
 * before them, every pod removed and leaks checked after each (or, with `shared`, once after all,
 * for tests that share pods), cleaned up after all. `flags` go to cribd as they are.
 */
export function cribdWithBusybox(opts: { shared?: boolean; flags?: string[] } = {}): Harness {
  const h = new Harness({ flags: opts.flags });
  const removeAll = () =>
    h.explained(async () => {
      for (const p of (await call(h.runtime, 'ListPodSandbox', {})).items) await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: p.id });
      assert.deepEqual((await call(h.runtime, 'ListContainers', {})).containers, [], 'no container outlives its pod');
      await h.assertNoLeaks();
    });
  before(async () => {
    await h.start();
    await importBusybox(h, TEST_IMAGE);
  });
  if (opts.shared) {
    after(async () => {
      try {
        await removeAll();
      } finally {
        await h.cleanup();
      }
    });
  } else {
    after(() => h.cleanup());
    afterEach(removeAll);
  }
  return h;
}
