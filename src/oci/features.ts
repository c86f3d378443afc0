// What a runtime handler can do, read once from the runtime's own `features` subcommand (runc 1.1+,
// crun 1.5+: the OCI "features" document) rather than assumed from its name or version. Status
// announces these per handler (RuntimeHandlerFeatures), and CreateContainer refuses what the
// handler lacks. One table: a new feature is a field here, its reading in parseHandlerFeatures,
// and its line in src/cri/runtime-features.ts.
import { CribError } from '../util/errors.js';

export interface HandlerFeatures {
  /** The mount option `rro` (recursive read-only, mount_setattr(2)) is known to the runtime. */
  recursiveReadOnlyMounts: boolean;
}

/** A runtime whose features are unknown (no `features` subcommand, or output it could not read): nothing announced. */
export const noFeatures: HandlerFeatures = { recursiveReadOnlyMounts: false };

/** Bound on the features document (runc's is about 4 KiB). */
export const MAX_FEATURES_BYTES = 1024 * 1024;

/** Reads the runtime's features document (JSON); throws on text that is not one. */
export function parseHandlerFeatures(text: string): HandlerFeatures {
  if (text.length > MAX_FEATURES_BYTES) throw new CribError('Internal', `runtime features: ${text.length} bytes, more than ${MAX_FEATURES_BYTES}`);
  const doc: unknown = JSON.parse(text);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new CribError('Internal', 'runtime features: not a JSON object');
  const mountOptions = (doc as { mountOptions?: unknown }).mountOptions;
  const options = Array.isArray(mountOptions) ? mountOptions.filter((o): o is string => typeof o === 'string') : [];
  return { recursiveReadOnlyMounts: options.includes('rro') };
}
