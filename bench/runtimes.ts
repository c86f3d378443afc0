import fs from 'node:fs';
import path from 'node:path';
import { call, type CriClients } from '../src/client/client.js';
import { builtinPauseImage } from '../src/version.js';
import { Harness } from '../test/support/harness.js';
import { importBusybox, TEST_IMAGE } from '../test/support/busybox-image.js';
import { Containerd, ensureContainerdInstalled } from './containerd.js';
import { findProcesses } from './proc.js';
import { killPids, reapCgroupRoot } from './teardown.js';
import type { RuntimeName } from './table.js';

/**
 * The two runtimes under test behind one interface. Scenarios see only this: a CRI client of the
 * runtime's socket (the same client code for both), its daemon's PID, its per-pod monitors, and
 * where its pods' logs and cgroups go.
 */
export interface Target {
  readonly name: RuntimeName;
  readonly socket: string;
  readonly clients: CriClients;
  /** The busybox test image, present in the runtime's store. */
  readonly image: string;
  readonly daemonPid: number;
  /** Pods' log directories go below this. */
  readonly logRoot: string;
  /** cgroupfs parent below which each pod gets its cgroup_parent (as kubelet's kubepods). */
  readonly cgroupRoot: string;
  /** The live per-pod monitors: crib's conmons (one per container, pause included), containerd's shims (one per pod). */
  monitorPids(): number[];
}

export interface Targets {
  crib: Target;
  containerd: Target;
  /** Both, in the order the scenarios alternate them. */
  all: readonly Target[];
  /** Tears both down; returns what had to be cleaned up beyond a clean stop. */
  close(): Promise<string[]>;
}

function cribTarget(h: Harness): Target {
  const pid = h.daemon?.pid;
  if (pid === undefined) throw new Error('cribd is not running');
  return {
    name: 'crib',
    socket: h.socket,
    clients: h.client,
    image: TEST_IMAGE,
    daemonPid: pid,
    logRoot: path.join(h.base, 'logs'),
    cgroupRoot: h.cgroupRoot,
    monitorPids: () => findProcesses('conmon', h.base),
  };
}

function containerdTarget(c: Containerd): Target {
  if (!c.clients) throw new Error('containerd is not running');
  return {
    name: 'containerd',
    socket: c.socket,
    clients: c.clients,
    image: TEST_IMAGE,
    daemonPid: c.pid,
    logRoot: path.join(c.base, 'logs'),
    cgroupRoot: c.cgroupRoot,
    monitorPids: () => c.shimPids(),
  };
}

/**
 * Starts cribd (a Harness: its own socket, root, state, bridge, subnet, cgroup root) with the
 * suite's busybox image, then containerd with the same pause and busybox images, exported from
 * cribd as a docker-archive and imported with ctr.
 */
export async function startTargets(): Promise<Targets> {
  // Own process groups: a terminal's Ctrl-C reaches the bench alone, which then tears both down.
  const h = new Harness({ flags: ['--log-level', 'warn'], detached: true });
  // Scenario 10's pods reach their rootfs as an unprivileged node uid: the temp dir lets them pass, as /run does.
  fs.chmodSync(h.base, 0o711);
  let ctrd: Containerd | undefined;
  const close = async (): Promise<string[]> => {
    const left: string[] = [];
    const removeAll = async (clients: CriClients | undefined, name: string) => {
      if (!clients) return;
      try {
        for (const p of (await call(clients.runtime, 'ListPodSandbox', {}, 30)).items) {
          await call(clients.runtime, 'StopPodSandbox', { pod_sandbox_id: p.id }, 120);
          await call(clients.runtime, 'RemovePodSandbox', { pod_sandbox_id: p.id }, 120);
        }
      } catch (err) {
        left.push(`${name}: removing pods: ${(err as Error).message}`);
      }
    };
    if (ctrd) {
      await removeAll(ctrd.clients, 'containerd');
      left.push(...(await ctrd.cleanup()).map((l) => `containerd: ${l}`));
    }
    if (h.daemon) {
      await removeAll(h.client, 'crib');
      // The suite's leak check: netns pins, mounts, veths, IP leases, cgroups, conmon and pause.
      await h.assertNoLeaks().catch((err: unknown) => left.push(`crib: ${(err as Error).message.split('\n--- cribd log')[0] ?? ''}`));
      // After a crash or an interrupt: our conmons (their command line names our base) and what they ran.
      await killPids(findProcesses('conmon', h.base));
      await reapCgroupRoot(h.cgroupRoot);
      // Its own leak check would repeat what the one above reported.
      await h.cleanup().catch(() => undefined);
    }
    return left;
  };
  try {
    console.error('bench: starting cribd');
    await h.start();
    await importBusybox(h, TEST_IMAGE);
    const archive = path.join(h.base, 'bench-images.tar');
    await call(h.client.cribImages, 'Export', { images: [builtinPauseImage, TEST_IMAGE], path: archive, format: 'docker-archive' }, 600);

    await ensureContainerdInstalled();
    console.error('bench: starting containerd');
    ctrd = new Containerd();
    await ctrd.start(builtinPauseImage);
    await ctrd.importImage(archive);
    const crib = cribTarget(h);
    const containerd = containerdTarget(ctrd);
    return { crib, containerd, all: [crib, containerd], close };
  } catch (err) {
    const left = await close();
    if (left.length) console.error(`bench: cleanup after a failed start: ${left.join('; ')}`);
    throw err;
  }
}
