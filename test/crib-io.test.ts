// Tests for crib-io (helpers/crib-io, built by scripts/build-helpers.sh), each against the real thing
// it is for: a pty for sh and for `runc exec -t` in a real container, the attach socket of a real
// conmon-managed container (pipes and terminal), and TCP inside a network namespace of the test's
// own. Root only. Every process here is started by the test and ended by its pid; containers,
// namespaces and temporary directories are removed even when a test fails.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { conmonResizeMessage, parseSyncMessage } from '../src/oci/conmon.js';
import { builtCribIoBinary, decodeAttachFrames, ptyResizeLine, type AttachFrame } from '../src/host/crib-io.js';
import { BUSYBOX_BIN } from './support/registry.js';
import { waitFor } from './support/wait-for.js';

const MAX_BYTES = 65536;

/** The crib-io the build made (scripts/build.sh runs build-helpers.sh). */
function cribIo(): string {
  assert.ok(fs.existsSync(builtCribIoBinary), `${builtCribIoBinary} is missing: run the build (npm run build)`);
  return builtCribIoBinary;
}

// ---------------------------------------------------------------------------------------------
// A running crib-io

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const running = new Set<Io>();

/** crib-io with its stdio (and, with `fd3`, its resize fd) as pipes; collects stdout and stderr. */
class Io {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  private out: Buffer[] = [];
  private err = '';
  stdoutEnded = false;
  private alive = true;

  constructor(args: string[], opts: { fd3?: boolean } = {}) {
    this.child = spawn(builtCribIoBinary, args, { stdio: ['pipe', 'pipe', 'pipe', ...(opts.fd3 ? ['pipe' as const] : [])] });
    running.add(this);
    this.child.stdout!.on('data', (b: Buffer) => this.out.push(b));
    this.child.stdout!.on('end', () => (this.stdoutEnded = true));
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.err += s));
    this.child.stdin!.on('error', () => {}); // EPIPE once it has exited is the test's to notice
    this.exited = new Promise((resolve) => {
      // 'close': the exit and every byte of its output.
      this.child.on('close', (code, signal) => {
        this.alive = false;
        running.delete(this);
        resolve({ code, signal });
      });
    });
  }

  get stdout(): Buffer {
    return Buffer.concat(this.out);
  }

  get text(): string {
    return this.stdout.toString('utf8');
  }

  get stderr(): string {
    return this.err;
  }

  write(data: string | Buffer): void {
    this.child.stdin!.write(data);
  }

  end(data?: string | Buffer): void {
    this.child.stdin!.end(data);
  }

  /** A resize command on fd 3. */
  resize(width: number, height: number): void {
    (this.child.stdio[3] as Writable).write(ptyResizeLine(width, height));
  }

  async until(cond: (text: string) => boolean, what: string, ms = 10_000): Promise<void> {
    await waitFor(
      () => cond(this.text),
      () => `${what}; stdout so far: ${JSON.stringify(this.text)}, stderr: ${JSON.stringify(this.err)}`,
      ms,
    );
  }

  /** Waits for the exit; kills it (by pid) if it takes longer than `ms`. */
  async done(ms = 10_000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)));
    const r = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (r === 'timeout') {
      this.kill();
      throw new Error(`crib-io did not exit within ${ms} ms; stdout: ${JSON.stringify(this.text)}, stderr: ${JSON.stringify(this.err)}`);
    }
    return r;
  }

  kill(): void {
    if (this.alive) this.child.kill('SIGKILL');
  }
}

after(() => {
  for (const io of running) io.kill();
});

/** Runs crib-io to the end with `input` on stdin. */
async function runIo(args: string[], input: string | Buffer = '', ms = 10_000): Promise<{ exit: Exit; stdout: string; stderr: string }> {
  const io = new Io(args);
  io.end(input);
  const exit = await io.done(ms);
  return { exit, stdout: io.text, stderr: io.stderr };
}

// ---------------------------------------------------------------------------------------------
// Containers: a busybox rootfs, `runc spec`, and cleanup that always runs

const tmpDirs: string[] = [];
function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(d);
  return d;
}
after(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A bundle at `dir`: busybox with its applets as the rootfs, runc's default spec with `args`. */
function makeBundle(dir: string, args: string[], terminal: boolean): void {
  const bin = path.join(dir, 'rootfs', 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.copyFileSync(BUSYBOX_BIN, path.join(bin, 'busybox'));
  fs.chmodSync(path.join(bin, 'busybox'), 0o755);
  for (const a of execFileSync(BUSYBOX_BIN, ['--list'], { encoding: 'utf8' }).split('\n')) {
    if (a && a !== 'busybox') fs.symlinkSync('busybox', path.join(bin, a));
  }
  fs.mkdirSync(path.join(dir, 'rootfs', 'tmp'));
  execFileSync('runc', ['spec'], { cwd: dir });
  const specFile = path.join(dir, 'config.json');
  const spec = JSON.parse(fs.readFileSync(specFile, 'utf8')) as { process: { args: string[]; terminal: boolean } };
  spec.process.args = args;
  spec.process.terminal = terminal;
  fs.writeFileSync(specFile, JSON.stringify(spec, null, 1));
}

/** runc's view of the test's containers; deletes every one of them at the end. */
class Runc {
  readonly state: string;
  private ids = new Set<string>();
  constructor(base: string) {
    this.state = path.join(base, 'runc');
  }

  args(...rest: string[]): string[] {
    return [`--root=${this.state}`, ...rest];
  }

  newId(): string {
    const id = `crib-io-test-${randomBytes(4).toString('hex')}`;
    this.ids.add(id);
    return id;
  }

  /** Runs runc to its end. Its stderr goes to a file: a detached container would hold a pipe open. */
  run(...rest: string[]): void {
    const errFile = path.join(path.dirname(this.state), `runc-${randomBytes(4).toString('hex')}.err`);
    const fd = fs.openSync(errFile, 'w');
    try {
      const r = spawnSync('runc', this.args(...rest), { stdio: ['ignore', 'ignore', fd], timeout: 30_000 });
      assert.equal(r.status, 0, `runc ${rest.join(' ')}: ${r.error?.message ?? ''} ${fs.readFileSync(errFile, 'utf8')}`);
    } finally {
      fs.closeSync(fd);
      fs.rmSync(errFile, { force: true });
    }
  }

  deleteAll(): void {
    for (const id of this.ids) spawnSync('runc', this.args('delete', '--force', id), { stdio: 'ignore', timeout: 30_000 });
    this.ids.clear();
  }
}

// ---------------------------------------------------------------------------------------------

describe('crib-io binary', () => {
  it('builds static and small', () => {
    const bin = cribIo();
    const size = fs.statSync(bin).size;
    assert.ok(size > 0 && size <= MAX_BYTES, `size ${size}`);
    assert.doesNotMatch(execFileSync('readelf', ['-lW', bin], { encoding: 'utf8' }), /INTERP/);
  });

  it('says how it is used', () => {
    const r = spawnSync(cribIo(), [], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /crib-io pty .*\n.*crib-io attach SOCKET\n.*crib-io netconnect NETNS_PATH PORT/);
  });
});

describe('crib-io pty', () => {
  before(() => void cribIo());

  it('gives the command a terminal of the initial size', async () => {
    const r = await runIo(['pty', '--size', '100x30', '--', 'sh', '-c', 'stty size; tty; test -t 0 && test -t 1 && test -t 2 && echo all-tty']);
    assert.deepEqual(r.exit, { code: 0, signal: null });
    assert.match(r.stdout, /^30 100\r\n\/dev\/pts\/\d+\r\nall-tty\r\n$/);
    assert.equal(r.stderr, '');
  });

  it('makes it the controlling terminal of a session of its own', async () => {
    // ps's tty column and `sid == pid` from /proc/self/stat (fields 6 session, 7 tty_nr).
    const r = await runIo(['pty', '--', 'sh', '-c', 'read -r a b c d e sid tty rest < /proc/$$/stat; echo "pid=$$ sid=$sid tty=$tty"']);
    const m = /pid=(\d+) sid=(\d+) tty=(\d+)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.equal(m[1], m[2]);
    assert.notEqual(m[3], '0');
  });

  it('resizes on "WIDTH HEIGHT" lines on fd 3 (the command sees SIGWINCH), and ignores bad ones', async () => {
    const io = new Io(
      ['pty', '--size', '10x5', '--', 'sh', '-c', 'trap "stty size" WINCH; stty size; i=0; while [ $i -lt 300 ]; do sleep 0.05; i=$((i+1)); done'],
      { fd3: true },
    );
    try {
      await io.until((t) => t.includes('5 10\r\n'), 'the initial size');
      io.resize(120, 40);
      await io.until((t) => t.includes('40 120\r\n'), 'the first resize');
      (io.child.stdio[3] as Writable).write('nonsense\n');
      io.resize(80, 24);
      await io.until((t) => t.includes('24 80\r\n'), 'the second resize');
      assert.match(io.stderr, /ignoring a resize line/);
      // SIGTERM is passed on to the command's process group; sh has no trap for it.
      io.child.kill('SIGTERM');
      assert.deepEqual(await io.done(), { code: 128 + 15, signal: null });
    } finally {
      io.kill();
    }
  });

  it('passes exit codes through, 128+N for signal N', async () => {
    assert.equal((await runIo(['pty', '--', 'sh', '-c', 'exit 3'])).exit.code, 3);
    assert.equal((await runIo(['pty', '--', 'sh', '-c', 'kill -KILL $$'])).exit.code, 137);
    assert.equal((await runIo(['pty', '--', 'sh', '-c', 'kill -TERM $$'])).exit.code, 143);
    const missing = await runIo(['pty', '--', 'no-such-command-crib-io']);
    assert.equal(missing.exit.code, 127);
    assert.match(missing.stderr, /crib-io: pty: cannot run no-such-command-crib-io: No such file or directory/);
    assert.equal((await runIo(['pty', '--bogus', 'x'])).exit.code, 125);
  });

  it('passes SIGHUP on, and a trapped SIGTERM lets the command finish its way', async () => {
    const io = new Io(['pty', '--', 'sh', '-c', 'trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.05; done']);
    try {
      await io.until((t) => t.includes('ready'), 'ready');
      io.child.kill('SIGTERM');
      assert.deepEqual(await io.done(), { code: 7, signal: null });
      assert.match(io.text, /got-term/);
    } finally {
      io.kill();
    }
    // Once the command has printed, crib-io runs it and passes signals on.
    const hup = new Io(['pty', '--', 'sh', '-c', 'echo ready; exec sleep 30']);
    try {
      await hup.until((t) => t.includes('ready'), 'ready');
      hup.child.kill('SIGHUP');
      assert.deepEqual(await hup.done(), { code: 128 + 1, signal: null });
    } finally {
      hup.kill();
    }
  });

  it('types the terminal EOF at the end of stdin: cat ends', async () => {
    const io = new Io(['pty', '--', 'cat']);
    try {
      io.write('hello\n');
      await io.until((t) => t.split('hello\r\n').length === 3, "the echo and cat's copy");
      io.end();
      assert.deepEqual(await io.done(), { code: 0, signal: null });
    } finally {
      io.kill();
    }
  });

  it('relays a lot both ways without deadlock (input beyond the terminal queue, echoed back)', async () => {
    // 200 KB of lines through canonical mode with echo: the terminal's 4 KiB input queue fills, so
    // crib-io must keep reading the echo while its input waits; the command sees every byte. (The
    // kernel itself drops echo when its echo buffer overruns, so the echo is not counted.)
    const input = Array.from({ length: 4000 }, (_, i) => `line ${i} ${'x'.repeat(40)}\n`).join('');
    const r = await runIo(['pty', '--', 'sha256sum'], input, 60_000);
    assert.equal(r.exit.code, 0);
    // The digest ends the output; what comes right before it is echo, which the kernel may have cut.
    assert.ok(r.stdout.endsWith(`${createHash('sha256').update(input).digest('hex')}  -\r\n`), r.stdout.slice(-200));
    assert.match(r.stdout, /^line 0 x+\r\n/);
  });
});

describe('crib-io pty with runc exec -t', () => {
  let base: string;
  let runc: Runc;
  let id: string;

  before(() => {
    cribIo();
    base = tempDir('crib-io-runc-');
    runc = new Runc(base);
    id = runc.newId();
    makeBundle(path.join(base, 'bundle'), ['sleep', '1000'], false);
    runc.run('run', '--detach', '--bundle', path.join(base, 'bundle'), '--pid-file', path.join(base, 'pid'), id);
  });
  after(() => runc?.deleteAll());

  it('runc copies the outer terminal size into the container, initially and on every SIGWINCH', async () => {
    const io = new Io(['pty', '--size', '90x33', '--', 'runc', ...runc.args('exec', '-t', id, 'sh', '-c', 'stty size; while read x; do stty size; done')], {
      fd3: true,
    });
    try {
      // Each newline asks the container again: runc applies a size when its SIGWINCH arrives, and
      // under load the first stty may run before runc has set the console up.
      const seen = (size: string, what: string, ms: number) =>
        waitFor(
          async () => {
            if (io.text.includes(size)) return true;
            io.write('\n');
            await sleep(100);
            return false;
          },
          () => `${what} inside the container; stdout so far: ${JSON.stringify(io.text)}`,
          ms,
        );
      await seen('33 90', 'the initial size', 20_000);
      io.resize(120, 40);
      await seen('40 120', 'the resized terminal', 10_000);
      io.resize(200, 50);
      await seen('50 200', 'the second size', 10_000);
      // The end of stdin is ^D on the terminal; runc (raw) passes it on and the container's read ends.
      io.end();
      assert.deepEqual(await io.done(20_000), { code: 0, signal: null });
    } finally {
      io.kill();
    }
  });

  it('passes the exit code of the command in the container through runc', async () => {
    const r = await runIo(['pty', '--', 'runc', ...runc.args('exec', '-t', id, 'sh', '-c', 'tty; exit 42')], '', 20_000);
    assert.equal(r.exit.code, 42);
    assert.match(r.stdout, /\/dev\/pts\/\d+/);
  });
});

// ---------------------------------------------------------------------------------------------
// conmon: started by hand the way src/oci/conmon.ts does, plus --stdin (and --terminal)

interface Conmon {
  id: string;
  bundle: string;
  socket: string;
  exitFile: string;
}

async function startConmon(base: string, runc: Runc, args: string[], terminal: boolean): Promise<Conmon> {
  const id = runc.newId();
  const bundle = path.join(base, id);
  makeBundle(bundle, args, terminal);
  const sockDir = path.join(base, 'sock');
  const exitDir = path.join(base, 'exit');
  fs.mkdirSync(sockDir, { recursive: true });
  fs.mkdirSync(exitDir, { recursive: true });
  const child = spawn(
    'conmon',
    [
      '--api-version',
      '1',
      '--cid',
      id,
      '--cuuid',
      id,
      '--name',
      id,
      '--runtime',
      execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim(),
      '--bundle',
      bundle,
      '--container-pidfile',
      path.join(bundle, 'pidfile'),
      '--conmon-pidfile',
      path.join(bundle, 'conmon.pid'),
      '--log-path',
      `k8s-file:${path.join(base, `${id}.log`)}`,
      '--exit-dir',
      exitDir,
      '--socket-dir-path',
      sockDir,
      '--log-level',
      'error',
      '--stdin',
      ...(terminal ? ['--terminal'] : []),
      '--runtime-arg',
      `--root=${runc.state}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], env: { ...process.env, _OCI_SYNCPIPE: '3' } },
  );
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  let text = '';
  let pid = 0;
  let ended = false;
  const sync = child.stdio[3] as Readable;
  sync.setEncoding('utf8').on('data', (s: string) => {
    text += s;
    const m = parseSyncMessage(text);
    if (m) pid = m.message.data;
  });
  sync.on('end', () => (ended = true));
  await waitFor(() => pid !== 0 || ended, 'conmon to report the container pid', 30_000);
  sync.destroy();
  child.stderr!.destroy();
  assert.ok(pid > 0, `conmon did not create the container: ${text} ${err}`);
  return { id, bundle, socket: path.join(sockDir, id, 'attach'), exitFile: path.join(exitDir, id) };
}

/** Frames `crib-io attach` wrote so far. */
function frames(io: Io): { stream: string; data: string }[] {
  const r = decodeAttachFrames(io.stdout);
  return r.frames.map((f: AttachFrame) => ({ stream: f.stream, data: f.data.toString('utf8') }));
}

function streamText(io: Io, stream: 'stdout' | 'stderr'): string {
  return frames(io)
    .filter((f) => f.stream === stream)
    .map((f) => f.data)
    .join('');
}

/** Each newline asks the container again, until `want` shows on the attach's stdout. */
async function pokeUntil(io: Io, want: string, what: string): Promise<void> {
  await waitFor(
    async () => {
      if (streamText(io, 'stdout').includes(want)) return true;
      io.write('\n');
      await sleep(150);
      return false;
    },
    () => `${what}; stdout so far: ${JSON.stringify(streamText(io, 'stdout'))}`,
    10_000,
  );
}

describe('crib-io attach with a real conmon', () => {
  let base: string;
  let runc: Runc;
  const conmonPids: number[] = [];

  before(() => {
    cribIo();
    base = tempDir('crib-io-conmon-');
    runc = new Runc(base);
  });
  after(async () => {
    runc?.deleteAll();
    // conmon leaves once its container is gone; give it a moment, then end it by its pid.
    for (const pid of conmonPids) {
      try {
        await waitFor(() => !fs.existsSync(`/proc/${pid}`), `conmon ${pid} to exit`, 5000);
      } catch {
        process.kill(pid, 'SIGKILL');
      }
    }
  });
  const track = (c: Conmon) => {
    const p = Number(fs.readFileSync(path.join(c.bundle, 'conmon.pid'), 'utf8'));
    if (p > 0) conmonPids.push(p);
    return c;
  };

  it("frames the container's stdout and stderr, passes stdin (one packet per 32 KiB), and its end closes the container's stdin", async () => {
    const c = track(
      await startConmon(
        base,
        runc,
        ['sh', '-c', 'while read l; do [ "$l" = big ] && break; echo "out:$l"; echo "err:$l" >&2; done; wc -c; echo done >&2'],
        false,
      ),
    );
    const io = new Io(['attach', c.socket]);
    try {
      runc.run('start', c.id);
      io.write('one\n');
      await waitFor(() => streamText(io, 'stderr').includes('err:one\n'), 'the first line back');
      io.write('two\n');
      await waitFor(() => streamText(io, 'stderr').includes('err:two\n'), 'the second line back');
      // 200000 bytes after "big": stdin packets must fit conmon's 32 KiB read or it cuts them short.
      io.write('big\n');
      io.end(Buffer.alloc(200_000, 'x'));
      assert.deepEqual(await io.done(20_000), { code: 0, signal: null });
      assert.equal(streamText(io, 'stdout'), 'out:one\nout:two\n200000\n');
      assert.equal(streamText(io, 'stderr'), 'err:one\nerr:two\ndone\n');
      assert.equal(decodeAttachFrames(io.stdout).rest.length, 0);
      assert.equal(io.stderr, '');
      await waitFor(() => fs.existsSync(c.exitFile), 'the exit file');
      assert.equal(fs.readFileSync(c.exitFile, 'utf8'), '0');
    } finally {
      io.kill();
    }
  });

  it('attaches to a terminal: one stream, resized through conmon\'s ctl fifo ("1 HEIGHT WIDTH")', async () => {
    const c = track(await startConmon(base, runc, ['sh', '-c', 'stty size; while read x; do stty size; done; exit 5'], true));
    const io = new Io(['attach', c.socket]);
    const ctl = (width: number, height: number) => {
      // One message per open and write: conmon 2.1.6 misreads several in one read.
      const fd = fs.openSync(path.join(c.bundle, 'ctl'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
      try {
        fs.writeSync(fd, conmonResizeMessage(width, height));
      } finally {
        fs.closeSync(fd);
      }
    };
    try {
      ctl(100, 30);
      runc.run('start', c.id);
      await pokeUntil(io, '30 100', 'the first size');
      ctl(132, 50);
      await pokeUntil(io, '50 132', 'the second size');
      assert.deepEqual(
        frames(io).filter((f) => f.stream !== 'stdout'),
        [],
      );
      // The end of stdin does not end a terminal (conmon keeps a second fd of it): ^D does.
      io.end('\x04');
      assert.deepEqual(await io.done(20_000), { code: 0, signal: null });
      await waitFor(() => fs.existsSync(c.exitFile), 'the exit file');
      assert.equal(fs.readFileSync(c.exitFile, 'utf8'), '5');
    } finally {
      io.kill();
    }
  });

  it('fails with a message when the socket is not there', async () => {
    const r = await runIo(['attach', path.join(base, 'nowhere', 'attach')]);
    assert.equal(r.exit.code, 1);
    assert.equal(r.stderr, `crib-io: attach: connect ${path.join(base, 'nowhere', 'attach')}: No such file or directory\n`);
    assert.equal(r.stdout, '');
  });

  it('reaches a socket whose path is longer than sun_path allows', async () => {
    // conmon binds such paths through /proc/self/fd/DIR/attach, and crib-io connects the same way.
    // Node has no SEQPACKET: a stream socket, moved to a deep directory after it was bound, shows
    // that the path was reached (a SEQPACKET connect to it is EPROTOTYPE, not ENOENT).
    const top = tempDir('crib-io-long-');
    let dir = top;
    while (dir.length < 120) dir = path.join(dir, 'a-rather-long-directory-name');
    fs.mkdirSync(dir, { recursive: true });
    const sock = path.join(dir, 'attach');
    const server = net.createServer().listen(path.join(top, 's'));
    await new Promise((r) => server.once('listening', r));
    try {
      fs.renameSync(path.join(top, 's'), sock);
      const r = await runIo(['attach', sock]);
      assert.equal(r.exit.code, 1);
      assert.equal(r.stderr, `crib-io: attach: connect ${sock}: Protocol wrong type for socket\n`);
      const missing = await runIo(['attach', path.join(dir, 'gone')]);
      assert.match(missing.stderr, /: No such file or directory\n$/);
    } finally {
      server.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// netconnect: a namespace of the test's own with servers in it

const SERVER = `
const net = require('node:net');
const crypto = require('node:crypto');
const [echo, count, greet, v6] = process.argv.slice(2).map(Number);
const servers = [
  // Echo, ending when the client's end has been echoed.
  [echo, '127.0.0.1', (s) => s.pipe(s)],
  // Reads to the end, then answers with what it got.
  [count, '127.0.0.1', (s) => {
    const h = crypto.createHash('sha256');
    let n = 0;
    s.on('data', (b) => { n += b.length; h.update(b); });
    s.on('end', () => s.end('got ' + n + ' ' + h.digest('hex') + '\\n'));
  }],
  // Speaks first and ends its side at once; reads whatever comes.
  [greet, '127.0.0.1', (s) => { s.end('hello\\n'); s.resume(); s.on('end', () => s.destroy()); }],
  [v6, '::1', (s) => { s.end('hello v6\\n'); s.resume(); s.on('end', () => s.destroy()); }],
];
let left = servers.length;
for (const [port, host, fn] of servers) {
  net.createServer({ allowHalfOpen: true }, fn).listen(port, host, () => { if (--left === 0) console.log('ready'); });
}
`;

describe('crib-io reap', () => {
  // CMD stands in for `runc exec --detach`: it starts the command in the background, writes its
  // pid and exits, leaving the command an orphan for crib-io to reap. runc and crun exit without
  // ever waiting for a detached process (runc reaps only in its foreground forwarding loop), so
  // neither may the stand-in: a shell still running when its background job ends reaps it, and
  // crib-io is left with no status to report (125). So the command waits at a fifo until the
  // stand-in has exited and closed its write end.
  const detached = (pidFile: string, script: string) => {
    const gate = `${pidFile}.gate`;
    return ['sh', '-c', `mkfifo ${gate}; sh -c 'read _ < ${gate}; ${script}' & echo $! > ${pidFile}; exec 3> ${gate}`];
  };

  it("exits with the orphaned command's status, not when a child it left closes the output", async () => {
    const pidFile = path.join(tempDir('crib-io-reap-'), 'pid');
    const child = spawn(cribIo(), ['reap', pidFile, '--', ...detached(pidFile, 'sleep 3 & echo out; exit 7')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const started = Date.now();
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    assert.equal(code, 7);
    assert.ok(Date.now() - started < 2500, 'crib-io waited for the background sleep');
    await waitFor(
      () => out === 'out\n',
      () => `its output, got ${JSON.stringify(out)}`,
      2000,
    );
    child.stdout.destroy();
    child.stderr.destroy();
  });

  it('passes a signal on as 128+N, and a failing runtime as its own status and message', async () => {
    const pidFile = path.join(tempDir('crib-io-reap-'), 'pid');
    assert.equal((await runIo(['reap', pidFile, '--', ...detached(pidFile, 'kill -KILL $$')])).exit.code, 137);
    const failed = await runIo(['reap', path.join(path.dirname(pidFile), 'never'), '--', 'sh', '-c', 'echo nope >&2; exit 3']);
    assert.equal(failed.exit.code, 3);
    assert.equal(failed.stderr, 'nope\n');
    assert.equal((await runIo(['reap', pidFile])).exit.code, 2);
  });
});

describe('crib-io netconnect', () => {
  const ns = `crib-io-test-${randomBytes(4).toString('hex')}`;
  const nsPath = `/run/netns/${ns}`;
  const ports = { echo: 7001, count: 7002, greet: 7003, v6: 7004, none: 7009 };
  let server: ChildProcess | undefined;

  before(async () => {
    cribIo();
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    const dir = tempDir('crib-io-netns-');
    fs.writeFileSync(path.join(dir, 'server.cjs'), SERVER);
    server = spawn(
      'ip',
      ['netns', 'exec', ns, process.execPath, path.join(dir, 'server.cjs'), String(ports.echo), String(ports.count), String(ports.greet), String(ports.v6)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    server.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
    await waitFor(() => out.includes('ready'), 'the servers in the namespace', 20_000);
  });
  after(async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      const gone = new Promise((r) => server!.once('exit', r));
      server.kill('SIGKILL');
      await gone;
    }
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  });

  it("says 'connected' on fd 3 once the connection is up, and nothing there when it is refused", async () => {
    const fd3Text = (io: Io) =>
      new Promise<string>((resolve) => {
        let t = '';
        const r = io.child.stdio[3] as NodeJS.ReadableStream;
        r.setEncoding('utf8');
        r.on('data', (s: string) => (t += s)).on('end', () => resolve(t));
      });
    const up = new Io(['netconnect', nsPath, String(ports.echo)], { fd3: true });
    try {
      assert.equal(await fd3Text(up), 'connected\n');
      up.end();
      assert.deepEqual(await up.done(), { code: 0, signal: null });
    } finally {
      up.kill();
    }
    const refused = new Io(['netconnect', nsPath, '1'], { fd3: true });
    try {
      assert.equal(await fd3Text(refused), '');
      assert.equal((await refused.done()).code, 1);
    } finally {
      refused.kill();
    }
  });

  it('relays both ways: bytes sent come back', async () => {
    const io = new Io(['netconnect', nsPath, String(ports.echo)]);
    try {
      io.write('ping\n');
      await io.until((t) => t === 'ping\n', 'the echo');
      io.write('pong\n');
      await io.until((t) => t === 'ping\npong\n', 'the second echo');
      io.end();
      assert.deepEqual(await io.done(), { code: 0, signal: null });
      assert.equal(io.stderr, '');
    } finally {
      io.kill();
    }
  });

  it('moves 10 MB each way at once, intact', async () => {
    const data = randomBytes(10 * 1024 * 1024);
    const r = new Io(['netconnect', nsPath, String(ports.echo)]);
    try {
      r.end(data);
      assert.deepEqual(await r.done(60_000), { code: 0, signal: null });
      assert.equal(r.stdout.length, data.length);
      assert.ok(r.stdout.equals(data), 'the echoed bytes differ');
    } finally {
      r.kill();
    }
  });

  it('half-closes: the end of stdin reaches the server, which still answers', async () => {
    const data = randomBytes(3 * 1024 * 1024);
    const r = await runIo(['netconnect', nsPath, String(ports.count)], data, 30_000);
    assert.deepEqual(r.exit, { code: 0, signal: null });
    assert.equal(r.stdout, `got ${data.length} ${createHash('sha256').update(data).digest('hex')}\n`);
  });

  it("half-closes the other way: the server's end closes stdout while stdin stays open", async () => {
    const io = new Io(['netconnect', nsPath, String(ports.greet)]);
    try {
      await waitFor(() => io.stdoutEnded, 'stdout to end');
      assert.equal(io.text, 'hello\n');
      io.write('more\n'); // still taken (and dropped by the server)
      await sleep(100);
      assert.equal(io.child.exitCode, null, 'exited before stdin ended');
      io.end();
      assert.deepEqual(await io.done(), { code: 0, signal: null });
      assert.equal(io.stderr, '');
    } finally {
      io.kill();
    }
  });

  it('falls back to [::1] when 127.0.0.1 refuses', async () => {
    const r = await runIo(['netconnect', nsPath, String(ports.v6)]);
    assert.deepEqual(r.exit, { code: 0, signal: null });
    assert.equal(r.stdout, 'hello v6\n');
  });

  it('says one line and exits 1 when nothing listens, inside the namespace only', async () => {
    // A listener on the host's loopback at the port: netconnect must not reach it.
    const host = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => host.once('listening', r));
    const hostPort = (host.address() as net.AddressInfo).port;
    try {
      for (const port of [ports.none, hostPort]) {
        const r = await runIo(['netconnect', nsPath, String(port)]);
        assert.equal(r.exit.code, 1);
        assert.equal(r.stderr, `error: connect 127.0.0.1:${port}: Connection refused\n`);
        assert.equal(r.stdout, '');
      }
    } finally {
      host.close();
    }
  });

  it('says one line for a namespace that is not there and for a bad port', async () => {
    const r = await runIo(['netconnect', '/run/netns/crib-io-no-such-ns', '80']);
    assert.deepEqual([r.exit.code, r.stderr], [1, 'error: open /run/netns/crib-io-no-such-ns: No such file or directory\n']);
    const bad = await runIo(['netconnect', nsPath, '70000']);
    assert.equal(bad.exit.code, 1);
    assert.match(bad.stderr, /^error: usage: .*\n$/);
  });
});
