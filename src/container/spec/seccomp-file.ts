import fs from 'node:fs/promises';
import { errorMessage, invalidArgument } from '../../util/errors.js';
import { parseUntrustedJson } from '../../util/json.js';

const FIELD = 'config.linux.security_context.seccomp.localhost_ref';
/** Real profiles are tens of KiB; the bound keeps a huge file (or /dev/zero) out of cribd's heap. */
const MAX_PROFILE_BYTES = 1 << 20;

/**
 * Reads the Localhost seccomp profile a request names. Only a regular file of bounded size is read
 * (opened non-blocking, so a FIFO cannot hold the call), and errors never quote its content.
 */
export async function readLocalhostProfile(file: string): Promise<unknown> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    throw invalidArgument(FIELD, `cannot open ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw invalidArgument(FIELD, `${file} is not a regular file`);
    if (st.size > MAX_PROFILE_BYTES) throw invalidArgument(FIELD, `${file} is larger than ${MAX_PROFILE_BYTES} bytes`);
    const buf = Buffer.alloc(st.size);
    const { bytesRead } = await fh.read(buf, 0, st.size, 0);
    return parseUntrustedJson(buf.subarray(0, bytesRead), `${FIELD}: ${file}`);
  } finally {
    await fh.close();
  }
}
