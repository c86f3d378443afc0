import fs from 'node:fs';
import path from 'node:path';
import { missingTool } from './missing-tool.js';

/** The real crictl (v1.26): CRICTL (scripts/test.sh points it at the one beside the checkout), else PATH. */
function findCrictl(): string | undefined {
  const fromEnv = process.env['CRICTL'];
  if (fromEnv) return fs.existsSync(fromEnv) ? fromEnv : undefined;
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    const candidate = path.join(dir, 'crictl');
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** crictl's path, or '' when the machine has none (then every test that drives it is skipped). */
export const crictl = findCrictl() ?? '';

/** The skip option of a test that drives crictl: false when there is one, else why not. */
export const withoutCrictl: string | false = crictl
  ? false
  : missingTool(
      'crictl',
      `${process.env['CRICTL'] ? `CRICTL=${process.env['CRICTL']} does not exist` : 'none on PATH'}; set CRICTL=/path/to/crictl (cri-tools v1.26, which Debian does not package)`,
    );
