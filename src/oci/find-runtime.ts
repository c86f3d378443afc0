import fs from 'node:fs';
import path from 'node:path';

/** Resolves a program name through PATH (plus the sbin dirs, which a non-login PATH may lack). */
export function findExecutable(nameOrPath: string): string | undefined {
  if (nameOrPath.includes('/')) return isExecutable(nameOrPath) ? path.resolve(nameOrPath) : undefined;
  const dirs = [...(process.env['PATH'] ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const p = path.join(dir, nameOrPath);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}
