// LogTail against real files in a temporary directory, rotated as kubelet rotates a container's log:
// the file renamed (the writer still holds it and writes on), then a new one made under the name.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LogTail } from '../../src/cli/log-tail.js';

describe('LogTail', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-logtail-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const fresh = () => path.join(dir, `${++n}.log`);

  it('reads what is appended, across a rotation, each byte once and in order', async () => {
    const file = fresh();
    const t = new LogTail(file);
    assert.equal((await t.read()).toString(), '', 'no file yet');
    let fd = fs.openSync(file, 'a');
    fs.writeSync(fd, 'a\n');
    assert.equal((await t.read()).toString(), 'a\n');
    fs.writeSync(fd, 'b\n');
    fs.renameSync(file, `${file}.1`); // rotated away; the writer writes on into it
    fs.writeSync(fd, 'c\n');
    assert.equal((await t.read()).toString(), 'b\nc\n', 'no new file yet: the old one is still the log');
    fs.writeSync(fd, 'd\n');
    fs.closeSync(fd);
    fd = fs.openSync(file, 'a'); // the reopen
    fs.writeSync(fd, 'e\n');
    assert.equal((await t.read()).toString(), 'd\ne\n', 'the rest of the old file, then the new one');
    fs.writeSync(fd, 'f\n');
    assert.equal((await t.read()).toString(), 'f\n');
    fs.closeSync(fd);
    await t.close();
  });

  it('loses nothing the writer put in the old file while a read was under way, just before the reopen', async () => {
    const file = fresh();
    const t = new LogTail(file);
    const fd = fs.openSync(file, 'a');
    fs.writeSync(fd, 'a\n');
    // Right after this read has drained the old file: the writer adds a line to it, then the
    // rotation (rename, reopen) happens, all before the read looks at the name.
    const seam = t as unknown as { drain(budget: number): Promise<Buffer> };
    const drain = seam.drain.bind(t);
    let once = true;
    seam.drain = async (budget) => {
      const got = await drain(budget);
      if (once) {
        once = false;
        fs.writeSync(fd, 'b\n');
        fs.closeSync(fd);
        fs.renameSync(file, `${file}.1`);
        fs.writeFileSync(file, 'c\n');
      }
      return got;
    };
    let out = '';
    for (let i = 0; i < 3; i++) out += (await t.read()).toString();
    assert.equal(out, 'a\nb\nc\n');
    await t.close();
  });

  it('reads a large backlog in bounded pieces, and whole when asked', async () => {
    const file = fresh();
    const line = `${'x'.repeat(1023)}\n`;
    fs.writeFileSync(file, line.repeat(3000)); // about 3 MiB
    const t = new LogTail(file);
    const pieces: number[] = [];
    do pieces.push((await t.read()).length);
    while (t.more);
    assert.equal(
      pieces.reduce((a, b) => a + b, 0),
      3000 * 1024,
    );
    assert.ok(pieces.length > 1 && pieces.every((p) => p < 3000 * 1024), `pieces: ${pieces.join(',')}`);
    await t.close();
    const whole = new LogTail(file);
    assert.equal((await whole.read(true)).length, 3000 * 1024);
    assert.equal(whole.more, false);
    await whole.close();
  });

  it('starts over on a file truncated in place', async () => {
    const file = fresh();
    fs.writeFileSync(file, 'one\ntwo\n');
    const t = new LogTail(file);
    assert.equal((await t.read()).toString(), 'one\ntwo\n');
    fs.truncateSync(file, 0);
    fs.appendFileSync(file, 'x\n');
    assert.equal((await t.read()).toString(), 'x\n');
    await t.close();
  });
});
