// makeDirs, the `mkdir -p` of paths a request names: Node's recursive mkdir never returns for a
// missing path under /proc (it makes the parent again, forever, in a thread-pool thread).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeDirs } from '../../src/util/fsx.js';

describe('makeDirs', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-makedirs-'));
  after(() => fs.rmSync(base, { recursive: true, force: true }));

  it('makes each missing directory, parents first, with the mode; one that exists is done', async () => {
    const deep = path.join(base, 'a', 'b', 'c');
    await makeDirs(deep, 0o750);
    for (const d of ['a', 'a/b', 'a/b/c']) assert.equal(fs.statSync(path.join(base, d)).mode & 0o777, 0o750 & ~process.umask(), d);
    await makeDirs(deep);
    await makeDirs(base);
  });

  it('fails with the error of the first directory that cannot be made', async () => {
    await assert.rejects(makeDirs(`/proc/crib-${process.pid}-missing/x`), { code: 'ENOENT' });
    fs.writeFileSync(path.join(base, 'file'), '');
    await assert.rejects(makeDirs(path.join(base, 'file', 'x')), { code: 'ENOTDIR' });
  });
});
