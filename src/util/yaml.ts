import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

const require = createRequire(import.meta.url);

/**
 * The yaml module, loaded at its first use: most CLI calls never read or print YAML, and loading it
 * is a good part of a short call's start.
 */
export function yaml(): typeof Yaml {
  return require('yaml') as typeof Yaml;
}
