// Where crib run keeps pod volumes, claims and status files: under cribd's root, as cribd says.
import path from 'node:path';
import { call } from '../../client/client.js';
import type { ClientContext } from '../../client/context.js';

/** The runtime's root directory (Status verbose info `config.root`): pod volumes and claims go under it. */
export async function runtimeRoot(ctx: ClientContext): Promise<string> {
  const s = await call(ctx.clients.runtime, 'Status', { verbose: true }, 30);
  try {
    const cfg = JSON.parse(s.info['config'] ?? '{}') as { root?: unknown };
    if (typeof cfg.root === 'string' && cfg.root.startsWith('/')) return cfg.root;
  } catch {
    /* another runtime: its info is not crib's */
  }
  return '/var/lib/crib';
}

export const podDir = (root: string, uid: string): string => path.join(root, 'pods', uid);
export const volumeDir = (root: string, uid: string, name: string): string => path.join(podDir(root, uid), 'volumes', name);
/** Where a container's subPaths of a volume are bound (kubelet's `volume-subpaths/VOLUME/CONTAINER`). */
export const subPathDir = (root: string, uid: string, volume: string, container: string): string =>
  path.join(podDir(root, uid), 'volume-subpaths', volume, container);
/** Where a PersistentVolumeClaim's data lives: cribd's root decides, the claim's name finds it again. */
export const claimDir = (root: string, namespace: string, name: string): string => path.join(root, 'volumes', namespace, name);
