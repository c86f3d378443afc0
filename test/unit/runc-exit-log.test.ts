// runc's exit log (src/oci/runc-exit-log.ts): the line that says a command exited, and the FIFO
// read for it, in a temp dir (mkfifo needs no root).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RuncExitLog, parseExitLine } from '../../src/oci/runc-exit-log.js';

async function waitUntil(cond: () => boolean, ms = 5000): Promise<void> {
  for (const deadline = Date.now() + ms; !cond(); await new Promise((r) => setTimeout(r, 5))) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
  }
}

describe('runc exit log', () => {
  it("reads the command's exit from runc's debug log, and nothing else", () => {
    const line = (v: object) => JSON.stringify({ file: 'signals.go:92', level: 'debug', time: '2026-12-01T18:27:52Z', ...v });
    assert.deepEqual(parseExitLine(line({ msg: 'process exited', pid: 30618, status: 3 })), { pid: 30618, status: 3 });
    assert.equal(parseExitLine(line({ msg: 'nsexec-1[30617]: process exited' })), undefined);
    assert.equal(parseExitLine(line({ msg: 'process exited', pid: '1', status: 0 })), undefined);
    assert.equal(parseExitLine('"process exited" {'), undefined);
  });

  it('hears every exit runc writes to its FIFO, in pieces or several at once', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-exit-log-'));
    try {
      const log = await RuncExitLog.open(path.join(dir, 'logs', 'runc'));
      assert.deepEqual(log.runtimeArgs, ['--debug', '--log', path.join(dir, 'logs', 'runc'), '--log-format', 'json']);
      const heard: number[] = [];
      const stop = log.onExit((e) => heard.push(e.pid));
      const writer = fs.openSync(log.fifo, 'a');
      const exit = (pid: number) => `{"level":"debug","msg":"process exited","pid":${pid},"status":0}\n`;
      fs.writeSync(writer, exit(1).slice(0, 20));
      fs.writeSync(writer, exit(1).slice(20) + '{"msg":"other"}\n' + exit(2));
      await waitUntil(() => heard.length === 2);
      stop();
      fs.writeSync(writer, exit(3));
      fs.closeSync(writer);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(heard, [1, 2]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
