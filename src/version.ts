import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './util/paths.js';

export const cribVersion: string = (JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

/** The reference of crib's own pause image, built from helpers/pause/pause.c. */
export const builtinPauseImage = `localhost/crib/pause:${cribVersion}`;
