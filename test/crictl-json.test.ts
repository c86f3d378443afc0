// `crib X -o json|yaml` against `crictl X -o json|yaml` on the same cribd: a script written against
// crictl's output reads crib's. crictl prints protobuf's JSON mapping (lowerCamelCase names, enum
// names, 64-bit integers as strings, every field present); so must crib. The one test that needs the
// real crictl: without one it is skipped and named after the summary (mandatory under .ci/run).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { call } from '../src/client/client.js';
import { runCapture } from '../src/util/exec.js';
import type { ContainerConfig } from '../src/cri/generated/runtime/v1/ContainerConfig.js';
import { Harness } from './support/harness.js';
import { importBusybox } from './support/busybox-image.js';
import { cribCli } from './support/crib-cli.js';
import { crictl, withoutCrictl } from './support/crictl.js';
import { waitFor } from './support/wait-for.js';

const IMAGE = 'localhost/test/busybox:1';

/**
 * Fields of the CRI that crictl v1.26's API (cri-api v0.26) does not have yet, so it cannot print
 * them: crib, on the newer API, prints them beside the rest. Any other difference fails the test.
 */
const NEWER_THAN_CRICTL = new Set(['imageId', 'userSpecifiedImage', 'runtimeHandler@image', 'imageRef@image', 'user', 'stopSignal']);

/**
 * Compares crib's document with crictl's: every value crictl prints, crib prints the same at the
 * same place; crib prints nothing else but NEWER_THAN_CRICTL fields. Returns the differences.
 */
function differences(crib: unknown, crictl: unknown, at = '', parentKey = ''): string[] {
  if (Array.isArray(crictl)) {
    if (!Array.isArray(crib) || crib.length !== crictl.length)
      return [`${at}: crib ${JSON.stringify(crib)?.slice(0, 200)}, crictl ${JSON.stringify(crictl).slice(0, 200)}`];
    return crictl.flatMap((v, i) => differences(crib[i], v, `${at}[${i}]`, parentKey));
  }
  if (crictl !== null && typeof crictl === 'object') {
    if (crib === null || typeof crib !== 'object' || Array.isArray(crib)) return [`${at}: crib ${JSON.stringify(crib)}, crictl an object`];
    const a = crib as Record<string, unknown>;
    const b = crictl as Record<string, unknown>;
    const out = Object.keys(b).flatMap((k) => (k in a ? differences(a[k], b[k], `${at}.${k}`, k) : [`${at}.${k}: missing in crib`]));
    for (const k of Object.keys(a)) {
      const inImageSpec = parentKey === 'image' || parentKey === 'spec';
      if (!(k in b) && !NEWER_THAN_CRICTL.has(k) && !(inImageSpec && NEWER_THAN_CRICTL.has(`${k}@image`))) out.push(`${at}.${k}: only crib prints it`);
    }
    return out;
  }
  return crib === crictl ? [] : [`${at}: crib ${JSON.stringify(crib)}, crictl ${JSON.stringify(crictl)}`];
}

describe('crib -o json|yaml is crictl -o json|yaml', { skip: withoutCrictl }, () => {
  const h = new Harness();
  const cli = cribCli(h);

  before(async () => {
    await h.start();
    await importBusybox(h, IMAGE);
    // A pod with a running container, an exited one and a created one, and a second, stopped pod
    const pod = await h.runPod('cmp-a', { annotations: { note: 'x' }, labels: { app: 'cmp' } });
    const config = h.podConfig('cmp-a', { annotations: { note: 'x' }, labels: { app: 'cmp' } });
    const ctr = (name: string, command: string[]): ContainerConfig => ({
      metadata: { name, attempt: 0 },
      image: { image: IMAGE },
      command,
      log_path: `${name}.log`,
      labels: { role: name },
      annotations: { 'io.kubernetes.pod.terminationGracePeriod': '2' },
    });
    const create = async (c: ContainerConfig) =>
      (await call(h.runtime, 'CreateContainer', { pod_sandbox_id: pod, config: c, sandbox_config: config })).container_id;
    const run = await create(ctr('runs', ['sleep', '3600']));
    await call(h.runtime, 'StartContainer', { container_id: run });
    const done = await create(ctr('done', ['sh', '-c', 'exit 3']));
    await call(h.runtime, 'StartContainer', { container_id: done });
    await create(ctr('idle', ['true']));
    await waitFor(async () => (await call(h.runtime, 'ContainerStatus', { container_id: done })).status?.state === 2, 'done exits');
    const stopped = await h.runPod('cmp-b');
    await call(h.runtime, 'StopPodSandbox', { pod_sandbox_id: stopped });
  });
  after(async () => {
    cli.killAll();
    await h.cleanup();
  });

  /** `X FLAGS -o FORMAT [ID]` by both (crictl takes its flags before the arguments). */
  async function both(args: string[], format: 'json' | 'yaml', id?: string): Promise<{ crib: unknown; crictl: unknown }> {
    const argv = [...args, '-o', format, ...(id === undefined ? [] : [id])];
    const mine = await cli.crib(argv);
    assert.equal(mine.code, 0, `crib ${args.join(' ')}: ${mine.stderr}`);
    const theirs = await runCapture(crictl, ['--runtime-endpoint', `unix://${h.socket}`, ...argv]);
    assert.equal(theirs.code, 0, `crictl ${args.join(' ')}: ${theirs.stderr.toString()}`);
    const parse = format === 'json' ? (s: string) => JSON.parse(s) as unknown : (s: string) => parseYaml(s) as unknown;
    return { crib: parse(mine.stdout), crictl: parse(theirs.stdout.toString()) };
  }

  for (const args of [['pods'], ['pods', '--state', 'ready'], ['ps'], ['ps', '-a'], ['images']]) {
    for (const format of ['json', 'yaml'] as const) {
      it(`crib ${args.join(' ')} -o ${format}`, async () => {
        const r = await both(args, format);
        assert.deepEqual(differences(r.crib, r.crictl), []);
        // it compared something: every list has its objects
        const lists = Object.values(r.crictl as Record<string, unknown[]>);
        assert.ok(lists.length === 1 && (lists[0]?.length ?? 0) >= 1, `crictl ${args.join(' ')} listed nothing: ${JSON.stringify(r.crictl)}`);
      });
    }
  }

  it('inspect, inspectp and inspecti print status as crictl does (times as RFC 3339)', async () => {
    const ids = JSON.parse((await cli.crib(['ps', '-a', '-o', 'json'])).stdout) as { containers: { id: string; metadata: { name: string } }[] };
    const done = ids.containers.find((c) => c.metadata.name === 'done')?.id as string;
    const pod = (await cli.crib(['pods', '-q', '--name', '^cmp-a$'])).stdout.trim();
    for (const [cmd, id] of [
      ['inspect', done],
      ['inspectp', pod],
      ['inspecti', IMAGE],
    ] as const) {
      const r = await both([cmd], 'json', id);
      const status = (d: unknown) => (d as { status: unknown }).status;
      assert.deepEqual(differences(status(r.crib), status(r.crictl)), [], cmd);
    }
  });
});
