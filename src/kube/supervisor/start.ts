// Handing a detached run to the node's supervisor: the run is recorded, and a supervisor is
// started (detached, its output in ROOT/kube/supervisor.log) unless one runs already.
import path from 'node:path';
import { spawnDetached } from '../../util/exec.js';
import { writeRun, type RunRecord } from '../records/runs.js';
import { lockHolder, supervisorLog } from './lock.js';
import { repoRoot } from '../../util/paths.js';

/** bin/crib of this checkout or package. */
const cribBin = (): string => path.join(repoRoot, 'bin', 'crib');

/** Records the run and makes sure a supervisor runs; its pid, and whether this call started it. */
export async function handOver(root: string, socket: string, r: RunRecord): Promise<{ pid: number; started: boolean }> {
  await writeRun(root, r);
  const holder = await lockHolder(root);
  if (holder !== undefined) return { pid: holder, started: false };
  const pid = await spawnDetached(process.execPath, [cribBin(), '--socket', socket, 'supervise', '--exit-when-idle'], supervisorLog(root));
  return { pid, started: true };
}
