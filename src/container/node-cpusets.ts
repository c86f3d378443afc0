// A cpuset a request names, checked against the node's online CPUs and memory nodes, read for each
// such request (CPUs come and go with hotplug; two small reads cost less than a stale answer).
import fs from 'node:fs/promises';
import { validateCpusetsOnNode } from './validate.js';
import type { ContainerResources } from './types.js';

const read = (p: string, fallback: string): Promise<string> =>
  fs.readFile(p, 'utf8').then(
    (s) => s.trim(),
    () => fallback,
  );

export async function validateCpusetsOnThisNode(field: string, r: ContainerResources): Promise<void> {
  if (r.cpusetCpus === undefined && r.cpusetMems === undefined) return;
  // A kernel without NUMA support has no node directory: its one memory node is 0.
  const [cpus, mems] = await Promise.all([read('/sys/devices/system/cpu/online', ''), read('/sys/devices/system/node/online', '0')]);
  validateCpusetsOnNode(field, r, { cpus, mems });
}
