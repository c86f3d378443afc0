// The ids of a `hostUsers: false` pod, picked as kubelet picks them: a block of 65536 node ids
// above 65535, disjoint from every other pod's on the node. A block is claimed by a symlink
// ROOT/userns-blocks/N -> UID, made atomically (two crib runs cannot both make it), and is the pod's
// as long as its directory ROOT/pods/UID exists: restarts of its containers, and of cribd, keep it;
// `crib down` or the end of the run removes the directory and the block is free again. Pods that
// crib run did not start (kubelet's, critest's) are avoided by asking cribd for their mappings.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { call } from '../../client/client.js';
import type { ClientContext } from '../../client/context.js';
import { podDir } from '../records/paths.js';

/** kubelet's per-pod length, which is also where its blocks start (ids 0-65535 stay the node's). */
export const USERNS_LENGTH = 65536;
/** Blocks 1 .. 65534: the last block would reach (u32)-1, which is never an id. */
const LAST_BLOCK = 2 ** 32 / USERNS_LENGTH - 2;

const blocksDir = (root: string): string => path.join(root, 'userns-blocks');

/** The blocks [start, start+length) touches (a mapping of another runtime need not be aligned). Pure. */
export function blocksOf(hostId: number, length: number): number[] {
  if (length < 1) return [];
  const first = Math.floor(hostId / USERNS_LENGTH);
  const last = Math.floor((hostId + length - 1) / USERNS_LENGTH);
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/** The lowest block not in `used`, or undefined when all are taken. Pure. */
export function firstFreeBlock(used: ReadonlySet<number>, from = 1): number | undefined {
  for (let b = Math.max(1, from); b <= LAST_BLOCK; b++) if (!used.has(b)) return b;
  return undefined;
}

/** The blocks cribd's sandboxes map (from each one's recorded config), whoever made them. */
async function blocksInRuntime(ctx: ClientContext): Promise<Set<number>> {
  const used = new Set<number>();
  const pods = (await call(ctx.clients.runtime, 'ListPodSandbox', {}, 30)).items;
  for (const p of pods) {
    const st = await call(ctx.clients.runtime, 'PodSandboxStatus', { pod_sandbox_id: p.id, verbose: true }, 30).catch(() => undefined);
    let cfg: { config?: { userns?: { uids?: { hostId: number; length: number }[]; gids?: { hostId: number; length: number }[] } } } = {};
    try {
      cfg = JSON.parse(st?.info['info'] ?? '{}') as typeof cfg;
    } catch {
      continue; // another runtime's info: its mappings are unknown
    }
    for (const m of [...(cfg.config?.userns?.uids ?? []), ...(cfg.config?.userns?.gids ?? [])]) for (const b of blocksOf(m.hostId, m.length)) used.add(b);
  }
  return used;
}

/** Claims a block for the pod `uid` (whose directory exists); returns its first node id. */
export async function claimUsernsBlock(ctx: ClientContext, root: string, uid: string): Promise<number> {
  const dir = blocksDir(root);
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const used = await blocksInRuntime(ctx);
  for (let from = 1; ;) {
    const b = firstFreeBlock(used, from);
    if (b === undefined) throw new Error('no block of 65536 node ids is free for a user namespace');
    const link = path.join(dir, String(b));
    try {
      await fsp.symlink(uid, link);
      return b * USERNS_LENGTH;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    // Taken: by a pod that still exists, or left by one whose directory is gone (free again).
    const owner = await fsp.readlink(link).catch(() => '');
    const alive =
      owner !== '' &&
      (await fsp.stat(podDir(root, owner)).then(
        () => true,
        () => false,
      ));
    if (alive) from = b + 1;
    else await fsp.rm(link, { force: true });
  }
}

/** The blocks the pod holds (their links' names). */
async function blocksHeld(root: string, uid: string): Promise<string[]> {
  const dir = blocksDir(root);
  const out: string[] = [];
  for (const e of await fsp.readdir(dir).catch(() => [] as string[])) if ((await fsp.readlink(path.join(dir, e)).catch(() => '')) === uid) out.push(e);
  return out;
}

/** The first node id of the user namespace the pod claimed at its start (a pod taken over by the supervisor). */
export async function usernsHostIdOf(root: string, uid: string): Promise<number | undefined> {
  const [block] = await blocksHeld(root, uid);
  return block === undefined ? undefined : Number(block) * USERNS_LENGTH;
}

/** Frees the pod's block (its directory's removal frees it too; this just tidies). */
export async function releaseUsernsBlocks(root: string, uid: string): Promise<void> {
  for (const e of await blocksHeld(root, uid)) await fsp.rm(path.join(blocksDir(root), e), { force: true });
}
