import { fileURLToPath } from 'node:url';
import path from 'node:path';

// Compiled files live in dist/src/..., sources in src/...; both sit two levels below the repo root.
const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, here.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..');

/** Where the build step puts the static pause binary. */
export const builtPauseBinary = path.join(repoRoot, 'build', 'pause');

/** Where cribd serves the CRI unless told otherwise (the CLI's default too). */
export const defaultSocketPath = '/run/crib/crib.sock';
