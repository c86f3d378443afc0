import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleProcess, forgetBundleProcess } from '../../src/oci/bundle-process.js';
import { callContext } from '../../src/cri/call-context.js';
import { ExitFiles } from '../../src/oci/exit-files.js';
import { newContext } from '../../src/util/context.js';
import { compareNanos } from '../../src/util/time.js';

// What the status, list and exec calls take from memory instead of the file system: the exit
// files' index, the order of creation times, a bundle's process; each against what the file
// system and BigInt say.

describe('compareNanos', () => {
  it('orders decimal nanosecond strings as BigInt does, across lengths', () => {
    const xs = ['0', '9', '10', '999999999', '1000000000', '1796644800123456789', '1796644800123456790', '17966448001234567890', '5'];
    for (const a of xs)
      for (const b of xs) {
        const want = BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0;
        assert.equal(Math.sign(compareNanos(a, b)), want, `${a} vs ${b}`);
      }
  });
});

/** Resolves once `cond` holds (inotify's events arrive on a later turn of the loop); fails after 5 s. */
async function eventually(cond: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + 5000; !cond(); await new Promise((r) => setTimeout(r, 5))) {
    if (Date.now() > deadline) assert.fail(what);
  }
}

describe('ExitFiles', () => {
  const withDir = async (fn: (dir: string) => Promise<void>) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-exits-'));
    try {
      await fn(dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };

  it('knows the exits written before its first use, and each one after, as conmon writes them', () =>
    withDir(async (dir) => {
      fs.writeFileSync(path.join(dir, 'before'), '0');
      const exits = new ExitFiles(dir);
      const heard: string[] = [];
      const unsubscribe = exits.subscribe((id) => heard.push(id));
      assert.equal(exits.has('before'), true, 'an exit recorded while nobody watched');
      assert.equal(exits.has('later'), false);
      // conmon's way: a dot file, renamed into place.
      fs.writeFileSync(path.join(dir, '.later'), '137');
      fs.renameSync(path.join(dir, '.later'), path.join(dir, 'later'));
      await eventually(() => exits.has('later'), 'the new exit file was never seen');
      await eventually(() => heard.includes('later'), 'the subscriber was never told');
      assert.equal(exits.has('.later'), false, 'a half-written file is no exit');
      assert.deepEqual(heard, ['later'], 'told once, and only of real exits');
      unsubscribe();
      fs.writeFileSync(path.join(dir, 'after'), '0');
      await eventually(() => exits.has('after'), 'the exit after unsubscribing was never seen');
      assert.deepEqual(heard, ['later'], 'an unsubscribed listener hears nothing more');
    }));

  it('forgets a removed exit file', () =>
    withDir(async (dir) => {
      const exits = new ExitFiles(dir);
      fs.writeFileSync(path.join(dir, 'gone'), '0');
      await eventually(() => exits.has('gone'), 'the exit file was never seen');
      fs.rmSync(path.join(dir, 'gone'));
      exits.forget('gone');
      assert.equal(exits.has('gone'), false);
      // Removed by someone else: the watch sees that too.
      fs.writeFileSync(path.join(dir, 'other'), '0');
      await eventually(() => exits.has('other'), 'the exit file was never seen');
      fs.rmSync(path.join(dir, 'other'));
      await eventually(() => !exits.has('other'), 'a removed exit file is still known');
    }));

  it('asks the file system when the dir cannot be watched', () =>
    withDir(async (dir) => {
      const missing = path.join(dir, 'not-yet');
      const exits = new ExitFiles(missing);
      assert.equal(exits.has('x'), false);
      fs.mkdirSync(missing);
      fs.writeFileSync(path.join(missing, 'x'), '0');
      assert.equal(exits.has('x'), true);
    }));
});

describe('bundleProcess', () => {
  it("reads a bundle's process once, until the bundle is forgotten; a failed read is not kept", async () => {
    const bundle = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-bundle-'));
    try {
      const config = path.join(bundle, 'config.json');
      await assert.rejects(bundleProcess(bundle), /ENOENT/);
      fs.writeFileSync(config, JSON.stringify({ process: { args: ['a'], cwd: '/' } }));
      assert.deepEqual((await bundleProcess(bundle)).args, ['a'], 'read once it is there');
      fs.writeFileSync(config, JSON.stringify({ process: { args: ['b'], cwd: '/' } }));
      assert.deepEqual((await bundleProcess(bundle)).args, ['a'], 'not read again');
      forgetBundleProcess(bundle);
      assert.deepEqual((await bundleProcess(bundle)).args, ['b'], 'read again once forgotten');
    } finally {
      forgetBundleProcess(bundle);
      fs.rmSync(bundle, { recursive: true, force: true });
    }
  });
});

describe('a call context', () => {
  const fakeCall = () => Object.assign(new EventEmitter(), { request: {}, getDeadline: () => Infinity });
  type Call = Parameters<typeof callContext>[2];

  it('is aborted by a cancellation while the call runs, not by the one grpc-js says of every call once it closed', () => {
    const running = fakeCall();
    const a = callContext('ListPodSandbox', 'unary', running as unknown as Call);
    running.emit('cancelled', 'cancelled');
    assert.equal(a.ctx.signal.aborted, true, 'a client that cancels cuts the call short');
    a.done('CANCELLED');

    const answered = fakeCall();
    const b = callContext('ListPodSandbox', 'unary', answered as unknown as Call);
    b.done('OK');
    answered.emit('cancelled', 'cancelled');
    assert.equal(b.ctx.signal.aborted, false, 'an answered call was not cancelled');
    assert.equal(answered.listenerCount('cancelled'), 0, 'nothing of the call is left listening');
  });

  it('has request ids of 8 hex digits, all different over many calls', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const id = newContext('Version', new AbortController().signal).requestId;
      assert.match(id, /^[0-9a-f]{8}$/);
      ids.add(id);
    }
    // 2000 draws of 32 random bits: a collision has a chance of about 1 in 2000.
    assert.ok(ids.size >= 1999, `${2000 - ids.size} repeated ids`);
  });
});
