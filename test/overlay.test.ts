// overlayfs mounts (src/image/overlay.ts), as root. Every mount is undone and the temp dir removed
// in `after`, even when a test fails.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { mountOverlay, unmountOverlay } from '../src/image/overlay.js';
import { isMountPoint } from '../src/host/mounts.js';
import type { CribError } from '../src/util/errors.js';
import { run } from '../src/util/exec.js';

let tmp = '';

before(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'crib-overlay-test-'));
});

after(async () => {
  // Whatever is still mounted below tmp (a failed test), deepest first.
  const info = await fsp.readFile('/proc/self/mountinfo', 'utf8');
  const points = info
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(`${tmp}/`))
    .sort((a, b) => b.length - a.length);
  for (const p of points) await run('umount', [p]).catch(() => undefined);
  await fsp.rm(tmp, { recursive: true, force: true });
});

const overlaysUnderTmp = async (): Promise<number> =>
  (await fsp.readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(` ${tmp}/`) && l.includes(' - overlay ')).length;

describe('mountOverlay / unmountOverlay', () => {
  it('mounts 120 layers with long paths (more than a page of options)', async () => {
    const base = path.join(tmp, 'layers', 'a-rather-long-directory-name-'.repeat(4));
    const lowers: string[] = [];
    for (let i = 0; i < 120; i++) {
      const d = path.join(base, `layer-number-${String(i).padStart(4, '0')}-with-a-long-name-${'x'.repeat(60)}`);
      await fsp.mkdir(d, { recursive: true });
      await fsp.writeFile(path.join(d, `f${i}`), String(i));
      await fsp.writeFile(path.join(d, 'common'), String(i));
      lowers.unshift(d); // top-most first: the last one made is on top
    }
    assert.ok(lowers.join(':').length > 4096 * 4);
    const target = path.join(tmp, 'merged-120');
    await mountOverlay({ lowerDirs: lowers, target });
    try {
      assert.ok(await isMountPoint(target));
      const names = fs.readdirSync(target);
      assert.equal(names.length, 121);
      for (let i = 0; i < 120; i++) assert.equal(fs.readFileSync(path.join(target, `f${i}`), 'utf8'), String(i));
      assert.equal(fs.readFileSync(path.join(target, 'common'), 'utf8'), '119');
      assert.throws(() => fs.writeFileSync(path.join(target, 'new'), 'x'), /EROFS/);
      // The short links were only needed while mounting.
      assert.deepEqual(
        fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('crib-ovl-')),
        [],
      );
    } finally {
      await unmountOverlay(target);
    }
    assert.equal(await isMountPoint(target), false);
    await unmountOverlay(target); // idempotent
    await unmountOverlay(path.join(tmp, 'never-existed'));
  });

  it('mounts a writable overlay with upper and work dirs', async () => {
    const lower = path.join(tmp, 'w-lower');
    await fsp.mkdir(path.join(lower, 'etc'), { recursive: true });
    await fsp.writeFile(path.join(lower, 'etc/hosts'), 'lower');
    await fsp.writeFile(path.join(lower, 'etc/remove-me'), 'x');
    const upper = path.join(tmp, 'w-upper');
    const work = path.join(tmp, 'w-work');
    const target = path.join(tmp, 'w-merged');
    await mountOverlay({ lowerDirs: [lower], upperDir: upper, workDir: work, target });
    try {
      await fsp.writeFile(path.join(target, 'etc/hosts'), 'changed');
      await fsp.writeFile(path.join(target, 'new'), 'new');
      await fsp.rm(path.join(target, 'etc/remove-me'));
      assert.deepEqual(fs.readdirSync(path.join(target, 'etc')), ['hosts']);
    } finally {
      await unmountOverlay(target);
    }
    // Changes went to the upper dir, in the same form unpackLayer writes (0:0 whiteouts).
    assert.equal(fs.readFileSync(path.join(lower, 'etc/hosts'), 'utf8'), 'lower');
    assert.equal(fs.readFileSync(path.join(upper, 'etc/hosts'), 'utf8'), 'changed');
    assert.equal(fs.readFileSync(path.join(upper, 'new'), 'utf8'), 'new');
    const wh = fs.lstatSync(path.join(upper, 'etc/remove-me'));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0);
  });

  it('mounts one lower dir read-only, and a read-only overlay with an upper dir', async () => {
    const lower = path.join(tmp, 'one-lower');
    await fsp.mkdir(lower);
    await fsp.writeFile(path.join(lower, 'f'), 'one');
    const target = path.join(tmp, 'one-merged');
    await mountOverlay({ lowerDirs: [lower], target });
    try {
      assert.equal(fs.readFileSync(path.join(target, 'f'), 'utf8'), 'one');
      assert.deepEqual(fs.readdirSync(target), ['f']);
      assert.throws(() => fs.writeFileSync(path.join(target, 'g'), 'x'), /EROFS/);
    } finally {
      await unmountOverlay(target);
    }
    const ro = path.join(tmp, 'ro-merged');
    await mountOverlay({ lowerDirs: [lower], upperDir: path.join(tmp, 'ro-upper'), workDir: path.join(tmp, 'ro-work'), target: ro, readonly: true });
    try {
      assert.throws(() => fs.writeFileSync(path.join(ro, 'g'), 'x'), /EROFS/);
    } finally {
      await unmountOverlay(ro);
    }
  });

  it('refuses to mount over a mount, and reports a busy one instead of detaching it', async () => {
    const a = path.join(tmp, 'busy-a');
    const b = path.join(tmp, 'busy-b');
    await fsp.mkdir(a);
    await fsp.mkdir(b);
    await fsp.writeFile(path.join(a, 'f'), 'a');
    const target = path.join(tmp, 'busy-merged');
    await mountOverlay({ lowerDirs: [a, b], target });
    try {
      await assert.rejects(mountOverlay({ lowerDirs: [b, a], target }), (e: CribError) => e.kind === 'AlreadyExists');
      const fh = await fsp.open(path.join(target, 'f'));
      try {
        await assert.rejects(unmountOverlay(target), (e: CribError) => e.kind === 'FailedPrecondition' && /busy/.test(e.message));
        assert.ok(await isMountPoint(target));
      } finally {
        await fh.close();
      }
    } finally {
      await unmountOverlay(target);
    }
    assert.equal(await isMountPoint(target), false);
  });

  it('checks its arguments', async () => {
    const target = path.join(tmp, 'args');
    await assert.rejects(mountOverlay({ lowerDirs: [], target }), (e: CribError) => e.kind === 'InvalidArgument');
    await assert.rejects(mountOverlay({ lowerDirs: [tmp], upperDir: path.join(tmp, 'u'), target }), /go together/);
  });

  it('leaves no overlay mounted', async () => {
    assert.equal(await overlaysUnderTmp(), 0);
  });
});
