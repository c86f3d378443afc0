// The harness's leak check itself (support/leaks.ts), against leftovers planted by hand: an
// empty CNI chain in ip6tables, named as the plugins name a pod's, and a file in the image store's
// tmp dir. No cribd: a scope of a temp dir, a made-up network and a made-up sandbox.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../src/util/exec.js';
import { cniChains, leftovers, type LeakScope } from '../support/leaks.js';

describe('the leak check', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-leak-check-'));
  const id = randomBytes(4).toString('hex');
  const sandboxId = randomBytes(32).toString('hex');
  const scope: LeakScope = {
    base,
    root: path.join(base, 'root'),
    state: path.join(base, 'state'),
    bridge: `lkchk${id}`,
    subnetPrefix: '10.254.254',
    networkName: `leak-check-${id}`,
    cgroupRoot: `/crib-leak-check-${id}`,
    kubeletCgroupRoot: `/crib-leak-check-kube-${id}`,
    kubeletCgroups: new Set(),
    allowedPids: new Set(),
    recordedPids: new Map(),
    sandboxIds: new Set([sandboxId]),
  };
  const [, dnat] = cniChains(scope.networkName, sandboxId);
  after(async () => {
    await run('ip6tables', ['-t', 'nat', '-X', dnat ?? '']).catch(() => undefined);
    fs.rmSync(base, { recursive: true, force: true });
  });

  it("finds a pod's empty chain in ip6tables and a file left in the image store's tmp dir", async () => {
    assert.deepEqual(await leftovers(scope), []);
    await run('ip6tables', ['-t', 'nat', '-N', dnat ?? '']);
    fs.mkdirSync(path.join(scope.root, 'images', 'tmp'), { recursive: true });
    fs.writeFileSync(path.join(scope.root, 'images', 'tmp', 'layer-half'), 'x');
    const found = await leftovers(scope);
    assert.ok(
      found.some((l) => l.includes(`ip6tables-save: :${dnat} `)),
      found.join('\n'),
    );
    assert.ok(
      found.some((l) => l === "left in the image store's tmp dir: layer-half"),
      found.join('\n'),
    );
  });
});
