// Rules for CRI fields that sandboxes and containers share: ids, names, hostnames, host paths.
import path from 'node:path';
import { invalidArgument } from './errors.js';

/** Container and sandbox ids: what crib generates (hex) and what other tools use, never a path. */
export function validateId(field: string, id: string): void {
  if (!id) throw invalidArgument(field, 'must not be empty');
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/.test(id)) throw invalidArgument(field, `"${id}" is not a valid id`);
}

/**
 * A metadata name (pod name, namespace, uid, container name). The CRI sets no length or character
 * rules (those are the API server's), so neither does crib, beyond what protects the node: no
 * control characters (they would forge log lines and terminal output) and, for what goes into
 * CNI_ARGS, no ';' (it would inject plugin arguments).
 */
export function validateName(field: string, value: string, opts: { required?: boolean; cniArg?: boolean } = {}): void {
  if (!value) {
    if (opts.required ?? true) throw invalidArgument(field, 'must not be empty');
    return;
  }
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (/[\x00-\x1f\x7f]/.test(value)) throw invalidArgument(field, `${JSON.stringify(value)} must not contain control characters`);
  if (opts.cniArg && value.includes(';')) throw invalidArgument(field, `"${value}" must not contain ';' (it is passed to CNI plugins in CNI_ARGS)`);
}

/**
 * The kernel's limit (HOST_NAME_MAX) and nothing that breaks /etc/hosts or /etc/hostname; the
 * RFC 1123 rules are kubelet's to apply, as containerd and CRI-O leave them to it.
 */
export function validateHostname(field: string, hostname: string): void {
  if (Buffer.byteLength(hostname) > 64) throw invalidArgument(field, `"${hostname}" is longer than the kernel's 64 bytes`);
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (/[\s\x00-\x1f\x7f/]/.test(hostname)) throw invalidArgument(field, `${JSON.stringify(hostname)} must not contain spaces, control characters or '/'`);
}

export function validateAbsolutePath(field: string, p: string): void {
  if (!path.isAbsolute(p)) throw invalidArgument(field, `"${p}" must be an absolute path`);
  if (p.includes('\0') || p.split('/').includes('..')) throw invalidArgument(field, `"${p}" must not contain ".." or NUL`);
}

/**
 * Kubernetes' bound on an object's annotations, keys and values together (the API server's
 * TotalAnnotationSizeLimitB). A pod's labels and annotations reach the sandbox as they are, so a
 * real pod never needs more; without a bound, two 10 MB annotations make every ListPodSandbox reply
 * larger than kubelet's 16 MiB gRPC limit, and the node loses every pod's status.
 */
export const METADATA_MAP_LIMIT = 256 * 1024;

/** Labels or annotations: their keys and values together within METADATA_MAP_LIMIT bytes. */
export function validateMetadataMap(field: string, map: Record<string, string>): void {
  let bytes = 0;
  for (const [k, v] of Object.entries(map)) bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
  if (bytes > METADATA_MAP_LIMIT) {
    throw invalidArgument(field, `${bytes} bytes of keys and values, more than the ${METADATA_MAP_LIMIT} Kubernetes allows for an object's annotations`);
  }
}

/** OCI runtimes and containerd take uids and gids as int32; the kernel's (uid_t)-1 is never a real id. */
export const MAX_UNIX_ID = 2 ** 31 - 1;

export function validateUnixId(field: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > MAX_UNIX_ID) throw invalidArgument(field, `${v} is not a valid id (0..${MAX_UNIX_ID})`);
}
