import fs from 'node:fs';
import path from 'node:path';

/** The real crictl (v1.26): CRICTL (scripts/test.sh points it at the one beside the checkout), else PATH. */
export function findCrictl(): string {
  const fromEnv = process.env['CRICTL'];
  if (fromEnv) return fromEnv;
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    const candidate = path.join(dir, 'crictl');
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  throw new Error('crictl not found: set CRICTL=/path/to/crictl (v1.26) or put crictl on PATH');
}
