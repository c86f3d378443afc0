// A path inside an image volume (kubelet 1.33's image_sub_path), resolved as if the volume's root
// were "/": ".." stops at the root and a symlink, absolute or relative, is followed inside it, so
// image content cannot lead the bind out of the volume. Resolving in cribd is sound only because
// the tree cannot change meanwhile: an image volume is an overlay of the store's layers without an
// upper dir, read-only, and nothing else writes those layers.
import fs from 'node:fs/promises';
import path from 'node:path';
import { CribError, invalidArgument } from '../util/errors.js';
import { isErrno } from '../util/fsx.js';

/** Symlinks followed in one resolution, as the kernel's limit (MAXSYMLINKS) before ELOOP. */
const MAX_SYMLINKS = 40;
/** The longest sub path taken, as PATH_MAX. */
const MAX_SUB_PATH = 4096;

/** `sub` inside `root` with every symlink resolved inside `root`; the path must exist. */
export async function resolveInRoot(root: string, sub: string, field: string): Promise<string> {
  if (sub.length > MAX_SUB_PATH) throw invalidArgument(field, `is longer than ${MAX_SUB_PATH} bytes`);
  if (sub.includes('\0')) throw invalidArgument(field, 'must not contain NUL');
  if (path.posix.isAbsolute(sub)) throw invalidArgument(field, `"${sub}" must be a relative path`);
  const todo = sub.split('/');
  const done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const part = todo.shift() as string;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const here = path.join(root, ...done, part);
    let st;
    try {
      st = await fs.lstat(here);
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) throw new CribError('NotFound', `${field}: "${sub}" is not in the image`);
      throw err;
    }
    if (!st.isSymbolicLink()) {
      done.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) throw invalidArgument(field, `"${sub}" goes through more than ${MAX_SYMLINKS} symlinks`);
    const target = await fs.readlink(here);
    // An absolute target starts again at the volume's root; a relative one at the link's directory.
    if (path.posix.isAbsolute(target)) done.length = 0;
    todo.unshift(...target.split('/'));
  }
  return path.join(root, ...done);
}
