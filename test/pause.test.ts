// Tests for the pod sandbox's pause program (helpers/pause/pause.c, built by scripts/build-pause.sh).
//
// The namespace tests need root and util-linux's unshare/nsenter; they run pause as PID 1 of a
// fresh PID namespace, exactly as a sandbox does, and check that orphans are reaped, that it idles
// without CPU use, and that SIGTERM/SIGINT end it cleanly with one line on stderr.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { builtPauseBinary, repoRoot } from '../src/util/paths.js';

const MAX_BYTES = 16384;
const buildScript = path.join(repoRoot, 'scripts', 'build-pause.sh');
const pauseSource = path.join(repoRoot, 'helpers', 'pause', 'pause.c');

const SIGINT_BIT = 1n << 1n; // signal 2
const SIGTERM_BIT = 1n << 14n; // signal 15
const SIGCHLD_BIT = 1n << 16n; // signal 17

function mtimeMs(file: string): number | undefined {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Builds the binary when it is missing (or older than its source) and returns its path. */
function ensurePauseBinary(): string {
  const bin = mtimeMs(builtPauseBinary);
  const src = mtimeMs(pauseSource);
  if (bin === undefined || (src !== undefined && src > bin)) {
    const r = spawnSync('bash', [buildScript], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `build-pause.sh failed:\n${r.stdout}\n${r.stderr}`);
  }
  assert.ok(fs.existsSync(builtPauseBinary), `${builtPauseBinary} was not built`);
  return builtPauseBinary;
}

function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

const nsSkip: string | false =
  process.getuid?.() !== 0 ? 'needs root' : !hasCommand('unshare') || !hasCommand('nsenter') ? 'needs util-linux unshare and nsenter' : false;

// ---------------------------------------------------------------------------------------------
// /proc helpers

interface ProcStat {
  state: string;
  ppid: number;
  utime: number;
  stime: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name may contain spaces or parentheses; fields resume after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field N is rest[N - 3].
  return {
    state: rest[0]!,
    ppid: Number(rest[1]),
    utime: Number(rest[11]),
    stime: Number(rest[12]),
  };
}

function pidNamespace(pid: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/** Host pids of every process currently in the given PID namespace. */
function processesInNamespace(ns: string): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pidNamespace(pid) === ns) out.push(pid);
  }
  return out;
}

function childrenOf(pid: number): number[] {
  const kids = new Set<number>();
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        const text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
        for (const s of text.trim().split(/\s+/)) if (s) kids.add(Number(s));
      } catch {
        // the task went away or the kernel lacks CONFIG_PROC_CHILDREN
      }
    }
  } catch {
    // the process itself went away
  }
  if (kids.size === 0) {
    for (const name of fs.readdirSync('/proc')) {
      if (/^\d+$/.test(name) && readStat(Number(name))?.ppid === pid) kids.add(Number(name));
    }
  }
  return [...kids];
}

function readComm(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function caughtSignals(pid: number): bigint {
  try {
    const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? BigInt(`0x${m[1]}`) : 0n;
  } catch {
    return 0n;
  }
}

function vmRssKb(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s*(\d+)\s*kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

// ---------------------------------------------------------------------------------------------
// Running pause as PID 1 of a new PID namespace

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface NsPause {
  unshare: ChildProcess;
  /** pause's pid as seen from the host. */
  pid: number;
  /** pause's PID namespace, as the /proc/<pid>/ns/pid link text. */
  ns: string;
  exited: Promise<Exit>;
  stdout: () => string;
  stderr: () => string;
  /** Kills whatever is still running (by pid) and waits for unshare to exit. */
  stop: () => Promise<void>;
}

async function startPauseInNamespace(bin: string): Promise<NsPause> {
  // --kill-child: if unshare dies for any reason, pause (and with it the namespace) dies too.
  const unshare = spawn('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', bin], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  unshare.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  unshare.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<Exit>((resolve) => {
    unshare.on('exit', (code, signal) => resolve({ code, signal }));
  });
  let done = false;
  void exited.then(() => (done = true));

  let pausePid: number | undefined;
  const stop = async (): Promise<void> => {
    // Kill pause first and let unshare collect it; killing unshare at the same time would leave
    // pause to be reaped by the host's init. Only if unshare lingers, kill it (--kill-child then
    // takes pause down too).
    if (!done && pausePid !== undefined && readStat(pausePid)?.ppid === unshare.pid) {
      try {
        process.kill(pausePid, 'SIGKILL');
      } catch {
        // already gone
      }
      await Promise.race([exited, sleep(3000)]);
    }
    if (!done) {
      try {
        unshare.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    await exited;
  };

  try {
    assert.ok(unshare.pid, 'unshare did not start');
    const unsharePid = unshare.pid;
    pausePid = await waitFor('pause to start under unshare', () => {
      if (done) throw new Error(`unshare exited early: ${err}`);
      return childrenOf(unsharePid).find((p) => readComm(p) === 'pause');
    });
    const pid = pausePid;
    // Do not signal it before its handlers exist: PID 1 would simply ignore the signal.
    await waitFor('pause to install its signal handlers', () => {
      const m = caughtSignals(pid);
      return (m & SIGINT_BIT) !== 0n && (m & SIGTERM_BIT) !== 0n && (m & SIGCHLD_BIT) !== 0n;
    });
    const ns = pidNamespace(pid);
    assert.ok(ns, 'cannot read pause pid namespace');
    assert.notEqual(ns, pidNamespace(process.pid), 'pause is not in a new pid namespace');
    return { unshare, pid, ns, exited, stdout: () => out, stderr: () => err, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Runs a shell script inside pause's namespaces; its background grandchildren become orphans. */
function runInNamespace(pausePid: number, script: string): void {
  const r = spawnSync('nsenter', ['--target', String(pausePid), '--pid', '--mount', '--', 'sh', '-c', script], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 0, `nsenter failed: ${r.error ?? ''} ${r.stderr}`);
}

/**
 * Spawns `count` orphaned sleepers in pause's namespace, checks they were handed to pause, then
 * waits until pause is alone again: every orphan has exited and been reaped (no zombie left).
 */
async function checkOrphansReaped(p: NsPause, count: number, sleepSeconds: number): Promise<void> {
  // `(cmd &)` forks a subshell that backgrounds cmd and exits at once: cmd is orphaned. Its stdio
  // goes to /dev/null so that spawnSync does not wait for the sleepers to close nsenter's pipes.
  runInNamespace(p.pid, `i=0; while [ "$i" -lt ${count} ]; do (sleep ${sleepSeconds} </dev/null >/dev/null 2>&1 &); i=$((i + 1)); done; exit 0`);

  const others = processesInNamespace(p.ns).filter((x) => x !== p.pid);
  const adopted = others.filter((x) => readStat(x)?.ppid === p.pid);
  if (sleepSeconds > 0) {
    assert.ok(adopted.length > 0, `no orphan was reparented to pause (saw ${others.length} other processes)`);
  }

  const deadline = Date.now() + (sleepSeconds * 1000 + 5000);
  let left = others;
  while (Date.now() < deadline) {
    await sleep(100);
    left = processesInNamespace(p.ns).filter((x) => x !== p.pid);
    if (left.length === 0) break;
  }
  const zombies = left.filter((x) => readStat(x)?.state === 'Z');
  assert.deepEqual(zombies, [], `zombies left in pause's namespace: ${zombies.join(' ')}`);
  assert.deepEqual(left, [], `processes still alive in pause's namespace: ${left.join(' ')}`);
  for (const x of adopted) assert.equal(readStat(x), undefined, `orphan ${x} still present`);
}

// ---------------------------------------------------------------------------------------------
// Tests

test('pause -v prints the version and exits 0', () => {
  const bin = ensurePauseBinary();
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8', timeout: 5000 });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^pause \S+\n$/);
  assert.equal(r.stdout, 'pause 3.10-crib\n');
  assert.equal(r.stderr, '');
});

test('pause with a bad argument prints usage on stderr and exits 1', () => {
  const bin = ensurePauseBinary();
  for (const args of [['--bogus'], ['x'], ['-v', 'extra']]) {
    const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 5000 });
    assert.equal(r.status, 1, `args ${args.join(' ')}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^usage: pause/);
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1);
  }
});

test('pause is a static binary of at most 16 KiB', () => {
  const bin = ensurePauseBinary();
  const size = fs.statSync(bin).size;
  assert.ok(size <= MAX_BYTES, `pause is ${size} bytes, over ${MAX_BYTES}`);

  // Read the ELF program headers: a static executable has no PT_INTERP.
  const buf = fs.readFileSync(bin);
  assert.equal(buf.subarray(0, 4).toString('latin1'), '\x7fELF', 'not an ELF file');
  assert.equal(buf[4], 2, 'expected a 64-bit ELF');
  const le = buf[5] === 1;
  const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const u64 = (o: number) => Number(le ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o));
  const phoff = u64(0x20);
  const phentsize = u16(0x36);
  const phnum = u16(0x38);
  const PT_INTERP = 3;
  const PT_DYNAMIC = 2;
  for (let i = 0; i < phnum; i++) {
    const type = u32(phoff + i * phentsize);
    assert.notEqual(type, PT_INTERP, 'pause has a program interpreter (dynamically linked)');
    assert.notEqual(type, PT_DYNAMIC, 'pause has a dynamic section');
  }
  if (hasCommand('file')) {
    const r = spawnSync('file', ['-b', bin], { encoding: 'utf8' });
    assert.match(r.stdout, /statically linked/);
  }
});

test('as PID 1 of a pid namespace, pause reaps orphans and idles without CPU', { skip: nsSkip, timeout: 60_000 }, async (t) => {
  const bin = ensurePauseBinary();
  const p = await startPauseInNamespace(bin);
  try {
    assert.match(fs.readFileSync(`/proc/${p.pid}/status`, 'utf8'), /^NSpid:.*\s1$/m, 'pause is not PID 1 inside its namespace');
    const rss = vmRssKb(p.pid);
    t.diagnostic(`pause host pid ${p.pid}, VmRSS ${rss} kB`);

    // A couple of orphans, then many at once.
    await checkOrphansReaped(p, 2, 0.3);
    await checkOrphansReaped(p, 50, 0.3);
    // Orphans that are already dead zombies by the time the SIGCHLD burst arrives.
    await checkOrphansReaped(p, 50, 0);

    // Idle: it sleeps in pause() and burns no CPU.
    const before = readStat(p.pid);
    assert.ok(before, 'pause vanished');
    await sleep(1000);
    const after = readStat(p.pid);
    assert.ok(after, 'pause vanished');
    assert.equal(after.state, 'S', `pause should be sleeping, is in state ${after.state}`);
    const total = after.utime + after.stime;
    const idle = total - (before.utime + before.stime);
    t.diagnostic(`pause CPU time after reaping 102 orphans: ${total} ticks; while idle for 1s: ${idle} ticks`);
    assert.ok(idle <= 1, `pause used ${idle} ticks of CPU while idle`);
    assert.ok(total <= 10, `pause used ${total} ticks of CPU in total`);
    assert.equal(p.stderr(), '');
    assert.equal(p.stdout(), '');
  } finally {
    await p.stop();
  }
});

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  test(`pause exits 0 on ${sig} with one line on stderr`, { skip: nsSkip, timeout: 30_000 }, async () => {
    const bin = ensurePauseBinary();
    const p = await startPauseInNamespace(bin);
    try {
      process.kill(p.pid, sig);
      const exit = await Promise.race([
        p.exited,
        sleep(5000).then(() => {
          throw new Error(`pause did not exit on ${sig}`);
        }),
      ]);
      assert.deepEqual(exit, { code: 0, signal: null });
      const lines = p.stderr().split('\n');
      assert.equal(lines.pop(), '', 'stderr should end with a newline');
      assert.equal(lines.length, 1, `expected exactly one line on stderr, got ${JSON.stringify(p.stderr())}`);
      assert.match(lines[0]!, new RegExp(`\\b${sig}\\b`));
      assert.equal(lines[0], `pause: shutting down, got ${sig}`);
      assert.equal(p.stdout(), '');
    } finally {
      await p.stop();
    }
  });
}
