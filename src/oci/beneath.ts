// Paths inside a directory a container can write (a volume): the one way crib resolves them. A
// container may have replaced any name there with a symlink to the node's /etc, or may rename
// things while crib looks, so such a path is never joined as a string and opened or handed to a
// mount; `crib-io beneath` resolves it with openat2 RESOLVE_BENEATH and mounts what it opened
// (helpers/crib-io/README.md). test/unit/beneath-callers.test.ts lists the callers.
import { CommandError, run } from '../util/exec.js';
import { builtCribIoBinary } from './crib-io.js';

/** One operation beneath a root; every REL is relative to it and may not leave it. */
export type BeneathOp =
  /** REL's missing directories, with the root's mode. */
  | { mkdir: string }
  /** REL (made a directory if missing) bind-mounted onto `target`, a staging path no container can write. */
  | { bind: string; target: string }
  /** A new file REL with `data` and `mode` (its directories made as mkdir; what was there replaced). */
  | { write: string; data: Buffer; mode: number };

/** A path beneath a root that could not be used: it leads out (a planted symlink) or is not what it must be. */
export class BeneathError extends Error {
  override readonly name = 'BeneathError';
}

/** crib-io's arguments and stdin for the operations (pure). */
export function beneathArgs(root: string, ops: readonly BeneathOp[]): { args: string[]; stdin: Buffer } {
  const args = ['beneath', root];
  const data: Buffer[] = [];
  for (const o of ops) {
    const rel = 'mkdir' in o ? o.mkdir : 'bind' in o ? o.bind : o.write;
    if (rel === '' || rel.startsWith('/') || rel.includes('\0')) throw new BeneathError(`"${rel}" is not a relative path`);
    if ('mkdir' in o) args.push('mkdir', o.mkdir);
    else if ('bind' in o) args.push('bind', o.bind, o.target);
    else {
      if (!Number.isInteger(o.mode) || o.mode < 0 || o.mode > 0o7777) throw new BeneathError(`mode ${o.mode} of "${o.write}" is not a file mode`);
      args.push('write', o.write, o.mode.toString(8), String(o.data.length));
      data.push(o.data);
    }
  }
  return { args, stdin: Buffer.concat(data) };
}

/** Runs the operations in order in one crib-io process; the first that fails throws a BeneathError saying why. */
export async function beneath(root: string, ops: readonly BeneathOp[]): Promise<void> {
  if (ops.length === 0) return;
  const { args, stdin } = beneathArgs(root, ops);
  try {
    await run(builtCribIoBinary, args, { stdin, timeoutMs: 60_000 });
  } catch (err) {
    const why = err instanceof CommandError ? err.stderr.trim().replace(/^error: /, '') : '';
    throw new BeneathError(why || (err instanceof Error ? err.message : String(err)), { cause: err });
  }
}
