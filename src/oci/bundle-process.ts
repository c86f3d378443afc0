import fs from 'node:fs/promises';
import path from 'node:path';
import type { OciProcess, OciSpec } from './spec-types.js';

/**
 * Each bundle's OCI process (user, env, cwd, capabilities, rlimits), which every exec in the
 * container runs with its own args: read from the bundle's config.json once, not at every ExecSync
 * (a readiness probe every 10 s per container; the file, with its seccomp profile, is tens of KiB
 * to parse). A bundle's config.json is written once, before the container is created, and never
 * changed (UpdateContainerResources goes to the runtime, not the file).
 */

/** Bundles remembered at most; past it the map starts again (a node runs a few hundred containers). */
const MAX_BUNDLES = 4096;
const byBundle = new Map<string, Promise<OciProcess>>();

export function bundleProcess(bundle: string): Promise<OciProcess> {
  let p = byBundle.get(bundle);
  if (!p) {
    if (byBundle.size >= MAX_BUNDLES) byBundle.clear();
    p = fs.readFile(path.join(bundle, 'config.json'), 'utf8').then((t) => (JSON.parse(t) as OciSpec).process);
    // A failed read is not remembered: the next exec reads again.
    p.catch(() => byBundle.delete(bundle));
    byBundle.set(bundle, p);
  }
  return p;
}

/** The bundle is deleted (its container is gone). */
export function forgetBundleProcess(bundle: string): void {
  byBundle.delete(bundle);
}
