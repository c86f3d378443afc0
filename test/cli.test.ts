// The crib CLI against a real cribd: every command run as a child process (`node bin/crib`), so
// exit codes, stdout/stderr and TTY-less output are what a user or a script gets.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { call } from '../src/client/client.js';
import { runCapture, run } from '../src/util/exec.js';
import { repoRoot } from '../src/util/paths.js';
import { builtinPauseImage } from '../src/version.js';
import type { ContainerConfig } from '../src/cri/generated/runtime/v1/ContainerConfig.js';
import type { PodSandboxConfig } from '../src/cri/generated/runtime/v1/PodSandboxConfig.js';
import type { PodTree } from '../src/cli/tree.js';
import { Harness } from './support/harness.js';
import { importBusybox } from './support/busybox-image.js';
import { waitFor } from './support/wait-for.js';
import { buildTestImage, pushLayout, skopeoInspect, startRegistry, type TestRegistry } from './support/registry.js';

const IMAGE = 'localhost/test/busybox:1';
const GRACE = 'io.kubernetes.pod.terminationGracePeriod';
const BIN = path.join(repoRoot, 'bin', 'crib');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Pod {
  id: string;
  config: PodSandboxConfig;
}

describe('crib CLI', () => {
  const h = new Harness();
  let reg: TestRegistry;

  /** `node bin/crib --socket SOCK ARGS...`: its exit code and output. */
  async function crib(args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Result> {
    const r = await runCapture(process.execPath, [BIN, '--socket', h.socket, ...args], { timeoutMs: opts.timeoutMs ?? 120_000, cwd: opts.cwd, env: opts.env });
    return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  }

  const running = new Set<ChildProcess>();

  /** `crib ARGS` left running (logs -f): its output so far, and its result once it ends. */
  function cribRunning(args: string[]): { stdout: () => string; done: Promise<Result> } {
    const child = spawn(process.execPath, [BIN, '--socket', h.socket, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const done = new Promise<Result>((resolve) =>
      child.on('close', (code) => {
        running.delete(child);
        resolve({ code, stdout, stderr });
      }),
    );
    return { stdout: () => stdout, done };
  }

  /** Runs crib and insists on exit code 0. */
  async function ok(args: string[], opts: { cwd?: string } = {}): Promise<string> {
    const r = await crib(args, opts);
    assert.equal(r.code, 0, `crib ${args.join(' ')} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  }

  const json = async <T>(args: string[]): Promise<T> => JSON.parse(await ok(args)) as T;

  before(async () => {
    await h.start();
    await importBusybox(h, IMAGE);
    reg = await startRegistry();
  });
  after(async () => {
    await h.cleanup();
    await reg?.stop();
  });

  async function pod(name: string, extra: Partial<PodSandboxConfig> = {}): Promise<Pod> {
    return { id: await h.runPod(name, extra), config: h.podConfig(name, extra) };
  }

  const ctrConfig = (name: string, command: string[], extra: Partial<ContainerConfig> = {}): ContainerConfig => ({
    metadata: { name, attempt: 0 },
    image: { image: IMAGE },
    command,
    log_path: `${name}.log`,
    labels: { role: name },
    annotations: { [GRACE]: '2' },
    ...extra,
  });

  async function create(p: Pod, c: ContainerConfig): Promise<string> {
    return (await call(h.runtime, 'CreateContainer', { pod_sandbox_id: p.id, config: c, sandbox_config: p.config })).container_id;
  }

  async function start(p: Pod, c: ContainerConfig): Promise<string> {
    const id = await create(p, c);
    await call(h.runtime, 'StartContainer', { container_id: id });
    return id;
  }

  const sharedPid: Partial<PodSandboxConfig> = { linux: { security_context: { namespace_options: { pid: 0 } } } };
  const podPid = (pid: 0 | 1): Partial<ContainerConfig> => ({ linux: { security_context: { namespace_options: { pid } } } });

  describe('without pods', () => {
    it('prints usage: no command is exit 2, --help and help COMMAND exit 0 for every command', async () => {
      const none = await runCapture(process.execPath, [BIN]);
      assert.equal(none.code, 2);
      assert.match(none.stderr.toString(), /Usage: crib/);
      assert.match(await ok(['--help']), /Usage: crib \[--socket PATH\] COMMAND/);
      const cmds = [
        'version',
        'info',
        'pods',
        'ps',
        'inspect',
        'inspectp',
        'inspecti',
        'logs',
        'exec',
        'stop',
        'rm',
        'stopp',
        'rmp',
        'runp',
        'tree',
        'images',
        'pull',
        'rmi',
        'image import',
        'image export',
        'image push',
      ];
      for (const c of cmds) {
        const r = await crib([...c.split(' '), '--help']);
        assert.equal(r.code, 0, `${c} --help: ${r.stderr}`);
        assert.match(r.stdout, new RegExp(`^Usage: crib ${c}`), c);
        const r2 = await crib([...c.split(' '), '-h']);
        assert.equal(r2.code, 0, `${c} -h`);
      }
      assert.match(await ok(['help', 'logs']), /^Usage: crib logs/);
      // one help text per command, whichever way it is asked for
      for (const c of ['run', 'down', 'daemon', 'logs', 'image export'])
        assert.equal(await ok(['help', ...c.split(' ')]), await ok([...c.split(' '), '--help']), c);
      assert.match(await ok(['image', '--help']), /crib image import/);
      assert.match(await ok(['daemon', '--help']), /Usage: crib daemon/);
    });

    it('exits 2 on bad usage and 1 on runtime errors, with clear messages', async () => {
      const unknown = await crib(['frobnicate']);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /unknown command "frobnicate"/);
      const badFlag = await crib(['pods', '--bogus']);
      assert.equal(badFlag.code, 2);
      assert.match(badFlag.stderr, /unknown flag --bogus[\s\S]*Usage: crib pods/);
      assert.equal((await crib(['pods', '-o', 'xml'])).code, 2);
      assert.equal((await crib(['logs'])).code, 2, 'missing CONTAINER');
      assert.equal((await crib(['exec', 'x'])).code, 2, 'missing CMD');
      assert.equal((await crib(['stop', '-t', 'soon', 'x'])).code, 2);
      assert.equal((await crib(['pull', '--creds', 'nocolon', 'x'])).code, 2);
      assert.equal((await crib(['image', 'export', IMAGE])).code, 2, 'missing -o FILE');
      const notFound = await crib(['inspect', 'no-such-thing']);
      assert.equal(notFound.code, 1);
      assert.match(notFound.stderr, /no container or pod or image "no-such-thing"/);
      assert.equal((await crib(['logs', 'no-such-thing'])).code, 1);
      assert.equal((await crib(['exec', 'no-such-thing', 'true'])).code, 1);
      const noDaemon = await runCapture(process.execPath, [BIN, '--socket', path.join(h.base, 'nothing.sock'), 'pods']);
      assert.equal(noDaemon.code, 1);
      assert.match(noDaemon.stderr.toString(), /no runtime socket at \S+: is cribd running\? Start it with `sudo crib daemon`/);
      // crib run meets it at its first call: the same words, not a raw connect error
      const manifest = path.join(h.base, 'none.yaml');
      fs.writeFileSync(manifest, `apiVersion: v1\nkind: Pod\nmetadata: { name: x }\nspec: { containers: [{ name: c, image: ${IMAGE} }] }\n`);
      const runNoDaemon = await runCapture(process.execPath, [BIN, '--socket', path.join(h.base, 'nothing.sock'), 'run', '-d', manifest]);
      assert.equal(runNoDaemon.code, 1);
      assert.equal(
        runNoDaemon.stderr.toString().replace(/^crib run: /, ''),
        noDaemon.stderr.toString().replace(/^crib pods: /, ''),
        'one message for no daemon',
      );
      // the env variable names the socket too
      const viaEnv = await runCapture(process.execPath, [BIN, 'version'], { env: { CRIB_SOCKET: h.socket } });
      assert.equal(viaEnv.code, 0, viaEnv.stderr.toString());
    });

    it('a user without root is told to use sudo or the socket group; crib daemon refuses before writing anything', async () => {
      const asNobody = (args: string[]) =>
        runCapture('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', process.execPath, BIN, ...args], { timeoutMs: 60_000 });
      fs.chmodSync(h.base, 0o755); // the socket's own mode (0660, root's group) is what refuses
      try {
        for (const cmd of [['pods'], ['run', '-d', path.join(h.base, 'none.yaml')]]) {
          const r = await asNobody(['--socket', h.socket, ...cmd]);
          assert.equal(r.code, 1, cmd[0]);
          assert.match(r.stderr.toString(), new RegExp(`^crib ${cmd[0]}: permission denied on ${h.socket}: crib needs root \\(run it with sudo\\)`), cmd[0]);
        }
        const grouped = fs.statSync(h.socket).gid;
        fs.chownSync(h.socket, 0, 1); // a group of its own ("daemon" on Debian): membership would do
        const r = await asNobody(['--socket', h.socket, 'pods']);
        assert.match(r.stderr.toString(), /or membership of the socket's group "[^"]+"/);
        fs.chownSync(h.socket, 0, grouped);
      } finally {
        fs.chmodSync(h.base, 0o700);
      }
      const root = path.join(os.tmpdir(), `crib-nonroot-${randomBytes(3).toString('hex')}`);
      const d = await asNobody(['daemon', '--root', root, '--state', `${root}-state`, '--socket', `${root}.sock`]);
      assert.equal(d.code, 1);
      assert.match(d.stderr.toString(), /cribd must run as root .*: sudo crib daemon/);
      assert.equal(fs.existsSync(root) || fs.existsSync(`${root}-state`), false, 'nothing written');
    });

    it('version, info', async () => {
      const v = await ok(['version']);
      assert.match(v, /RuntimeName:\s+crib/);
      assert.match(v, /RuntimeApiVersion:\s+v1/);
      // one style throughout: protobuf's JSON names, as crictl's
      const vj = await json<Record<string, string>>(['version', '-o', 'json']);
      assert.deepEqual(Object.keys(vj).sort(), ['clientVersion', 'runtimeApiVersion', 'runtimeName', 'runtimeVersion', 'version']);
      assert.equal(vj['runtimeName'], 'crib');
      const info = await json<{ status: { conditions: { type: string; status: boolean }[] } }>(['info']);
      assert.ok(info.status.conditions.some((c) => c.type === 'RuntimeReady' && c.status));
      const infoYaml = parseYaml(await ok(['info', '-o', 'yaml'])) as typeof info;
      assert.deepEqual(infoYaml.status, info.status);
    });
  });

  describe('pods and containers', () => {
    afterEach(async () => {
      // A test that failed midway may leave a follower running: end it (by its pid) before looking for leaks.
      for (const c of running) if (c.pid !== undefined && c.exitCode === null) process.kill(c.pid, 'SIGKILL');
      for (const p of (await call(h.runtime, 'ListPodSandbox', {})).items) await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: p.id });
      await h.assertNoLeaks();
    });

    it('lists pods and containers with a -pause row per sandbox, filters, -q, -o json|yaml, no colour in pipes', async () => {
      const alpha = await pod('alpha', sharedPid);
      const beta = await pod('beta');
      const web = await start(alpha, ctrConfig('web', ['httpd', '-f', '-p', '8080', '-h', '/www'], podPid(0)));
      const side = await start(alpha, ctrConfig('side', ['sleep', '1000'], podPid(0)));
      const solo = await start(beta, ctrConfig('solo', ['sleep', '1001']));
      const idle = await create(beta, ctrConfig('idle', ['sleep', '1002']));

      const pods = await ok(['pods']);
      assert.match(pods, /^POD ID\s+CREATED\s+STATE\s+READY\s+RESTARTS\s+NAME\s+NAMESPACE\s+ATTEMPT\s+RUNTIME$/m);
      assert.match(pods, new RegExp(`^${alpha.id.slice(0, 13)}\\s+.*ago\\s+Ready\\s+2/2\\s+0\\s+alpha\\s+default\\s+0\\s+`, 'm'));
      assert.ok(!pods.includes('\u001b['), 'no colour in a pipe');
      const pj = await json<{ items: { id: string; metadata: { name: string } }[] }>(['pods', '-o', 'json']);
      assert.deepEqual(pj.items.map((p) => p.metadata.name).sort(), ['alpha', 'beta']);
      const py = parseYaml(await ok(['pods', '-o', 'yaml'])) as typeof pj;
      assert.deepEqual(py.items.map((p) => p.id).sort(), [alpha.id, beta.id].sort());
      assert.deepEqual((await ok(['pods', '-q', '--name', '^alpha$'])).trim().split('\n'), [alpha.id]);
      assert.deepEqual((await ok(['pods', '-q', '--label', 'app=beta'])).trim().split('\n'), [beta.id]);
      assert.equal((await ok(['pods', '-q', '--state', 'notready'])).trim(), '');
      assert.equal((await ok(['pods', '-q', '--namespace', 'kube-system'])).trim(), '');

      const ps = await ok(['ps']);
      assert.match(ps, /^CONTAINER\s+IMAGE\s+CREATED\s+STATE\s+NAME\s+ATTEMPT\s+POD$/m);
      for (const [id, name, podName] of [
        [web, 'web', 'alpha'],
        [side, 'side', 'alpha'],
        [solo, 'solo', 'beta'],
      ] as const) {
        assert.match(ps, new RegExp(`^${id.slice(0, 13)}\\s+${IMAGE}\\s+.*ago\\s+Running\\s+${name}\\s+0\\s+${podName}$`, 'm'), ps);
      }
      for (const p of [alpha, beta]) {
        const name = p.config.metadata?.name as string;
        assert.match(ps, new RegExp(`^${p.id.slice(0, 13)}\\s+${builtinPauseImage}\\s+.*ago\\s+Running\\s+${name}-pause\\s+0\\s+${name}$`, 'm'), ps);
      }
      assert.doesNotMatch(ps, /idle/, 'without -a only running containers');
      assert.match(await ok(['ps', '-a']), /\bCreated\s+idle\b/);
      const psq = (await ok(['ps', '-q'])).trim().split('\n').sort();
      assert.deepEqual(psq, [web, side, solo, alpha.id, beta.id].sort());
      assert.deepEqual((await ok(['ps', '-aq', '--pod', 'beta'])).trim().split('\n').sort(), [solo, idle, beta.id].sort(), '--pod by name');
      assert.deepEqual((await ok(['ps', '-q', '--label', 'role=web'])).trim().split('\n'), [web]);
      assert.deepEqual((await ok(['ps', '-q', '--name', 'pause'])).trim().split('\n').sort(), [alpha.id, beta.id].sort());
      assert.deepEqual((await ok(['ps', '-q', '--state', 'created'])).trim().split('\n'), [idle]);

      // JSON and YAML as crictl ps prints them (test/crictl-json.test.ts compares): containers only
      const psj = await json<{ containers: { id: string; state: string; podSandboxId: string }[] }>(['ps', '-a', '-o', 'json']);
      assert.deepEqual(psj.containers.map((c) => c.id).sort(), [web, side, solo, idle].sort());
      assert.equal(psj.containers.find((c) => c.id === idle)?.state, 'CONTAINER_CREATED');
      const psy = parseYaml(await ok(['ps', '-o', 'yaml'])) as typeof psj;
      assert.deepEqual(psy.containers.map((c) => c.id).sort(), [web, side, solo].sort());
      const wide = await ok(['ps', '-o', 'wide']);
      assert.match(wide, new RegExp(`^${web.slice(0, 13)}\\s+.*\\s+alpha\\s+${alpha.id.slice(0, 13)}\\s+\\w{13}$`, 'm'), wide);

      // a stopped pod's pause row shows Exited, and only with -a
      await call(h.runtime, 'StopPodSandbox', { pod_sandbox_id: beta.id });
      assert.doesNotMatch(await ok(['ps']), /beta-pause/);
      assert.match(await ok(['ps', '-a']), /Exited\s+beta-pause/);
      assert.match(await ok(['pods', '--state', 'notready']), /NotReady\s+0\/2\s+0\s+beta/);
    });

    it('resolves ids, unique prefixes and unique names; an ambiguous prefix or name is an error', async () => {
      const alpha = await pod('alpha');
      const beta = await pod('beta');
      const web = await start(alpha, ctrConfig('web', ['sleep', '1000']));
      await start(alpha, ctrConfig('side', ['sleep', '1000']));
      const side2 = await start(beta, ctrConfig('side', ['sleep', '1000']));

      type Inspected = { kind: string; status: { id: string }; info: { pid?: number } };
      const byId = await json<Inspected>(['inspect', web]);
      assert.equal(byId.kind, 'container');
      assert.equal(byId.status.id, web);
      assert.ok((byId.info.pid ?? 0) > 0, 'verbose info with the pid');
      // the shortest prefix of web's id that nothing else shares
      const ids = [alpha.id, beta.id, ...(await call(h.runtime, 'ListContainers', {})).containers.map((c) => c.id)];
      const images = (await call(h.client.image, 'ListImages', {})).images.map((i) => i.id.slice(7));
      const uniquePrefix = (id: string) => {
        for (let n = 1; n <= id.length; n++) if ([...ids, ...images].filter((o) => o.startsWith(id.slice(0, n))).length === 1) return id.slice(0, n);
        return id;
      };
      assert.equal((await json<Inspected>(['inspect', uniquePrefix(web)])).status.id, web);
      assert.equal((await json<Inspected>(['inspect', 'web'])).status.id, web, 'container by name');
      assert.equal((await json<Inspected>(['inspect', 'beta/side'])).status.id, side2, 'POD/CONTAINER');
      const podDoc = await json<Inspected>(['inspect', 'alpha']);
      assert.equal(podDoc.kind, 'pod');
      assert.equal(podDoc.status.id, alpha.id);
      assert.equal((await json<Inspected>(['inspect', 'alpha-pause'])).status.id, alpha.id, 'the pause row names its pod');
      assert.equal((await json<{ status: { id: string } }>(['inspectp', uniquePrefix(beta.id)])).status.id, beta.id);
      const img = await json<Inspected>(['inspect', IMAGE]);
      assert.equal(img.kind, 'image');
      const imgId = img.status.id;
      assert.equal((await json<{ status: { id: string } }>(['inspecti', uniquePrefix(imgId.slice(7))])).status.id, imgId);
      const yamlDoc = parseYaml(await ok(['inspect', '-o', 'yaml', 'web'])) as Inspected;
      assert.equal(yamlDoc.status.id, web);

      const ambiguousName = await crib(['inspect', 'side']);
      assert.equal(ambiguousName.code, 1);
      assert.match(ambiguousName.stderr, /"side" is ambiguous/);

      // an ambiguous prefix: make (created, not started) containers until two pod/container ids share a first character
      const first = (s: string) => s[0] as string;
      let shared: string | undefined;
      for (let i = 0; !shared && i < 30; i++) {
        shared = [...new Set(ids.map(first))].find((c) => ids.filter((x) => first(x) === c).length > 1);
        if (!shared) ids.push(await create(beta, ctrConfig(`extra${i}`, ['true'])));
      }
      assert.ok(shared, 'some ids share a first character');
      const ambiguous = await crib(['inspect', shared]);
      assert.equal(ambiguous.code, 1);
      assert.match(ambiguous.stderr, new RegExp(`"${shared}" is ambiguous`));
      assert.equal((await crib(['stop', shared])).code, 1);
    });

    it('exec passes output and the exit code; stop and rm act on containers and pods', async () => {
      const p = await pod('work');
      const app = await start(p, ctrConfig('app', ['sleep', '1000']));
      const r = await crib(['exec', 'app', '--', 'sh', '-c', 'echo to-out; echo to-err >&2; exit 3']);
      assert.equal(r.code, 3);
      assert.equal(r.stdout, 'to-out\n');
      assert.equal(r.stderr, 'to-err\n');
      assert.equal((await crib(['exec', app.slice(0, 12), 'true'])).code, 0, 'no -- needed');
      assert.equal((await crib(['exec', 'app', 'ls', '-d', '/www'])).stdout, '/www\n', "the command's own flags pass through");
      const execStarted = Date.now();
      const slow = await crib(['exec', '--timeout', '1', 'app', 'sleep', '10']);
      assert.equal(slow.code, 1, slow.stderr);
      assert.match(
        slow.stderr,
        /^crib exec: command \["sleep","10"\] in container [0-9a-f]{64} ran past its 1 s timeout and was killed \(DEADLINE_EXCEEDED\)\n$/,
      );
      assert.ok(Date.now() - execStarted >= 1000, 'not before the timeout');

      const rmRunning = await crib(['rm', 'app']);
      assert.equal(rmRunning.code, 1);
      assert.match(rmRunning.stderr, /is running/);
      assert.equal((await ok(['stop', '-t', '1', 'app'])).trim(), app);
      assert.equal((await call(h.runtime, 'ContainerStatus', { container_id: app })).status?.state, 2);
      assert.equal((await ok(['rm', 'app'])).trim(), app);
      assert.deepEqual((await call(h.runtime, 'ListContainers', {})).containers, []);
      const forced = await start(p, ctrConfig('forced', ['sleep', '1000']));
      assert.equal((await ok(['rm', '-f', forced.slice(0, 10)])).trim(), forced);
      assert.deepEqual((await call(h.runtime, 'ListContainers', {})).containers, []);

      // pods: rm of a ready pod needs -f; stop by name; rm; stopp/rmp by prefix
      const rmReady = await crib(['rm', 'work']);
      assert.equal(rmReady.code, 1);
      assert.match(rmReady.stderr, /is ready/);
      assert.equal((await ok(['stop', 'work'])).trim(), p.id);
      assert.equal((await call(h.runtime, 'PodSandboxStatus', { pod_sandbox_id: p.id })).status?.state, 1);
      assert.equal((await ok(['rm', 'work'])).trim(), p.id);
      assert.deepEqual((await call(h.runtime, 'ListPodSandbox', {})).items, []);
      const q = await pod('quick');
      assert.match(await ok(['stopp', q.id.slice(0, 8)]), /Stopped sandbox/);
      assert.match(await ok(['rmp', 'quick']), new RegExp(`Removed sandbox ${q.id}`));
      const r2 = await pod('forcepod');
      await start(r2, ctrConfig('x', ['sleep', '1000']));
      assert.equal((await ok(['rm', '-f', 'forcepod'])).trim(), r2.id);
      assert.deepEqual((await call(h.runtime, 'ListPodSandbox', {})).items, []);
      // several ids: each is acted on, a bad one fails the command
      const a = await start(await pod('multi'), ctrConfig('a', ['sleep', '1000']));
      const mixed = await crib(['stop', '-t', '0', 'nope', a]);
      assert.equal(mixed.code, 1);
      assert.match(mixed.stdout, new RegExp(a));
    });

    it('logs: both streams apart, partial lines joined, --tail, --timestamps, -f to the exit across a rotation', async () => {
      const p = await pod('logs');
      const talker = await start(
        p,
        ctrConfig('talker', ['sh', '-c', 'echo out-1; echo err-1 >&2; printf part-; sleep 0.2; echo joined; echo out-2; echo out-3; sleep 1000']),
      );
      await waitFor(() => fs.readFileSync(path.join(p.config.log_directory as string, 'talker.log'), 'utf8').includes('out-3'), 'out-3 in the log', 15_000);
      const all = await crib(['logs', 'talker']);
      assert.equal(all.code, 0);
      assert.equal(all.stdout, 'out-1\npart-joined\nout-2\nout-3\n');
      assert.equal(all.stderr, 'err-1\n');
      const tail = await crib(['logs', '--tail', '2', talker.slice(0, 12)]);
      assert.equal(tail.stdout, 'out-2\nout-3\n');
      assert.equal(tail.stderr, '');
      const ts = await ok(['logs', '--tail=1', '--timestamps', 'talker']);
      assert.match(ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\S* out-3\n$/);

      // -f: follows a counter through a log rotation (rename + ReopenContainerLog) and ends when it exits.
      // The counter prints half its lines, waits for the rotation, then prints the rest.
      const counter = await start(
        p,
        ctrConfig('counter', [
          'sh',
          '-c',
          'i=0; while [ $i -lt 20 ]; do i=$((i+1)); echo n$i; done; while [ ! -e /tmp/rotated ]; do sleep 0.05; done; while [ $i -lt 40 ]; do i=$((i+1)); echo n$i; done',
        ]),
      );
      const follower = cribRunning(['logs', '-f', 'counter']);
      await waitFor(
        () => follower.stdout().endsWith('n20\n'),
        () => `the follower to print the first half: ${JSON.stringify(follower.stdout())}`,
        30_000,
      );
      const file = path.join(p.config.log_directory as string, 'counter.log');
      fs.renameSync(file, `${file}.1`);
      await call(h.runtime, 'ReopenContainerLog', { container_id: counter });
      await call(h.runtime, 'ExecSync', { container_id: counter, cmd: ['touch', '/tmp/rotated'], timeout: 10 });
      const followed = await follower.done;
      assert.equal(followed.code, 0, followed.stderr);
      assert.equal(followed.stdout, Array.from({ length: 40 }, (_, i) => `n${i + 1}\n`).join(''), 'every line, in order, once');

      // -f --tail on a running container, which then is stopped: the command ends
      const tailing = cribRunning(['logs', '-f', '--tail', '1', 'talker']);
      await waitFor(
        () => tailing.stdout() === 'out-3\n',
        () => `the last line: ${JSON.stringify(tailing.stdout())}`,
        30_000,
      );
      await call(h.runtime, 'StopContainer', { container_id: talker, timeout: 1 });
      const tailed = await tailing.done;
      assert.equal(tailed.code, 0, tailed.stderr);
      assert.equal(tailed.stdout, 'out-3\n');
    });

    it('tree: pause and the containers share the net namespace; pid shared or own as asked; eth0 and its host veth', async () => {
      const shared = await pod('sharedpid', sharedPid);
      const a = await start(shared, ctrConfig('a', ['sleep', '1000'], podPid(0)));
      const b = await start(shared, ctrConfig('b', ['sh', '-c', 'sleep 1001 & wait'], podPid(0)));
      const own = await pod('ownpid');
      const c = await start(own, ctrConfig('c', ['sleep', '1002'], podPid(1)));

      const t = await json<PodTree>(['tree', '-o', 'json', 'sharedpid']);
      assert.equal(t.pod.id, shared.id);
      const ip = (await h.inspect(shared.id)).status?.network?.ip as string;
      assert.equal(t.pod.ip, ip);
      assert.ok(t.netns, 'the netns is there');
      assert.match(t.netns.inode, /^net:\[\d+\]$/);
      const pause = t.pause.processes.find((p) => p.pid === t.pause.pid);
      assert.ok(pause && t.pause.pid === (await h.inspect(shared.id)).info.pid);
      assert.equal(pause.namespaces.net?.inode, t.netns.inode, 'pause is in the pinned netns');
      assert.deepEqual(t.containers.map((x) => x.id).sort(), [a, b].sort());
      for (const ctr of t.containers) {
        assert.ok(ctr.pid > 0 && ctr.processes.length >= 1);
        for (const proc of ctr.processes) {
          for (const ns of ['net', 'ipc', 'uts', 'pid'] as const) {
            assert.equal(proc.namespaces[ns]?.inode, pause.namespaces[ns]?.inode, `${ctr.name} ${ns}`);
            assert.equal(proc.namespaces[ns]?.shared, 'pause');
          }
        }
      }
      const bProcs = t.containers.find((x) => x.id === b)?.processes ?? [];
      assert.ok(
        bProcs.some((p) => p.command === 'sleep 1001'),
        `descendants of the init pid: ${JSON.stringify(bProcs)}`,
      );
      const lo = t.netns.interfaces.find((i) => i.name === 'lo');
      assert.ok(lo?.addresses.includes('127.0.0.1/8'));
      const eth0 = t.netns.interfaces.find((i) => i.name === 'eth0');
      assert.ok(eth0, JSON.stringify(t.netns.interfaces));
      assert.ok(
        eth0.addresses.some((x) => x.startsWith(`${ip}/`)),
        `eth0 has the pod IP: ${eth0.addresses.join(', ')}`,
      );
      assert.equal(eth0.kind, 'veth');
      assert.ok(eth0.hostPeer?.name, 'the host end is named');
      assert.equal(eth0.hostPeer.master, h.bridge);
      const hostLink = (await run('ip', ['-o', 'link', 'show', eth0.hostPeer.name])).stdout;
      assert.match(hostLink, new RegExp(`^${eth0.hostPeer.index}: ${eth0.hostPeer.name}@`));

      const t2 = await json<PodTree>(['tree', '-o', 'json', own.id.slice(0, 10)]);
      const pause2 = t2.pause.processes[0];
      const cp = t2.containers.find((x) => x.id === c)?.processes[0];
      assert.ok(pause2 && cp);
      assert.equal(cp.namespaces.net?.inode, pause2.namespaces.net?.inode);
      assert.equal(cp.namespaces.net?.shared, 'pause');
      assert.equal(cp.namespaces.ipc?.shared, 'pause');
      assert.notEqual(cp.namespaces.pid?.inode, pause2.namespaces.pid?.inode, 'CONTAINER pid: its own');
      assert.equal(cp.namespaces.pid?.shared, 'own');

      const text = await ok(['tree', 'sharedpid']);
      assert.match(text, /^Pod sharedpid \(namespace default\)/);
      assert.match(text, /Pod's network namespace \(created by pause\)/);
      assert.match(text, new RegExp(`eth0 ${ip.replace(/\./g, '\\.')}/\\d+ \\(veth pair to host: ${eth0.hostPeer.name}`));
      assert.match(text, /lo \(loopback\) 127\.0\.0\.1\/8/);
      assert.match(text, /container a's network stack \(shares with Pod\)/);
      assert.match(text, /pid \d+ {2}\/pause/);
      assert.match(text, /pid:\[\d+\] = pause/);
      assert.match(await ok(['tree', 'ownpid']), /pid:\[\d+\] own/);
      assert.equal((await crib(['tree', 'nope'])).code, 1);
    });
  });

  describe('images', () => {
    it('pull with progress lines, images, export, rmi, import, push', async () => {
      const work = await fsp.mkdtemp(path.join(h.base, 'images-'));
      const img = await buildTestImage(path.join(work, 'layout'), {
        layers: [{ entries: [{ path: 'big', content: randomBytes(6_000_000) }], compression: 'none' }, { entries: [{ path: 'small', content: 'x' }] }],
      });
      await pushLayout(img, reg, 'test/cli', '1');
      const ref = `${reg.host}/test/cli:1`;
      const id = img.images[0]?.config.digest as string;

      const pulled = await crib(['pull', ref]);
      assert.equal(pulled.code, 0, pulled.stderr);
      const lines = pulled.stdout.trim().split('\n');
      assert.equal(lines.at(-1), `Image is up to date for ${id}`);
      assert.ok(!pulled.stdout.includes('\u001b['), 'no redraws in a pipe');
      const big = img.images[0]?.layers[0];
      assert.ok(big);
      const bigLines = lines.filter((l) => l.startsWith(`${big.digest.slice(0, 19)}…`));
      assert.ok(bigLines.length >= 1, pulled.stdout);
      for (const l of bigLines) assert.match(l, /^sha256:[0-9a-f]{12}… \d+(\.\d)? [kMG]?B\/6\.0 MB( done)?$/);
      assert.match(bigLines.at(-1) as string, /6\.0 MB\/6\.0 MB done$/);

      const table = await ok(['images']);
      assert.match(table, /^REPOSITORY\s+TAG\s+IMAGE ID\s+SIZE$/m);
      assert.match(table, new RegExp(`^${reg.host}/test/cli\\s+1\\s+${id.slice(7, 20)}\\s+6\\.\\d+MB$`, 'm'));
      assert.match(table, /^localhost\/test\/busybox\s+1\s+/m);
      assert.ok((await ok(['images', '-q'])).split('\n').includes(id));
      const ij = await json<{ images: { id: string; repoTags: string[] }[] }>(['images', '-o', 'json']);
      assert.deepEqual(ij.images.find((i) => i.id === id)?.repoTags, [ref]);
      const iy = parseYaml(await ok(['images', '-o', 'yaml'])) as typeof ij;
      assert.equal(iy.images.length, ij.images.length);

      // export to a relative path (made absolute for cribd), remove, import back
      await ok(['image', 'export', '-o', 'out.tar', '--format', 'docker-archive', ref], { cwd: work });
      assert.ok(fs.statSync(path.join(work, 'out.tar')).size > 6_000_000);
      assert.match(await ok(['rmi', ref]), new RegExp(`Deleted: ${ref}`));
      assert.ok(!(await ok(['images', '-q'])).split('\n').includes(id));
      assert.equal((await crib(['rmi', ref])).code, 1, 'no longer there');
      const imported = await ok(['image', 'import', 'out.tar'], { cwd: work });
      assert.match(imported, new RegExp(`Loaded image: ${ref}`));
      assert.match(imported, new RegExp(`Loaded image ID: ${id}`));

      // oci-archive with --name
      await ok(['image', 'export', '-o', path.join(work, 'oci.tar'), id.slice(7, 19)]);
      const push = await ok(['image', 'push', id.slice(7, 19), `${reg.host}/mirrored/cli:2`]);
      assert.match(push, /^Pushed .*: sha256:[0-9a-f]{64}$/m);
      await skopeoInspect(`docker://${reg.host}/mirrored/cli:2`, { tlsVerify: false });
      assert.match(await ok(['image', 'push', ref]), /Pushed/);

      assert.match(await ok(['rmi', id.slice(7, 17)]), new RegExp(`Deleted: ${id}`));
      assert.equal((await ok(['images', '-q'])).split('\n').includes(id), false);
      assert.match(await ok(['image', 'import', '--name', `${reg.host}/named/cli:3`, path.join(work, 'oci.tar')]), /Loaded image/);
      assert.equal((await json<{ status: { id: string } }>(['inspecti', id])).status.id, id);
      assert.match(await ok(['rmi', id]), /Deleted/);

      const missing = await crib(['pull', `${reg.host}/test/none:1`]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /crib pull: /);
    });
  });
});
