// A minimal tar writer for tests that build layers byte by byte: ustar headers, PAX records
// (per entry, or global with type 'g' and paxBody), GNU long names, any type flag; and the
// hostile layers more than one test file throws at crib.
import zlib from 'node:zlib';

export interface Entry {
  path: string;
  /** '0' file, '1' hard link, '2' symlink, '3' char, '4' block, '5' dir, '6' fifo, 'L' GNU long name. */
  type?: string;
  data?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkpath?: string;
  devmajor?: number;
  devminor?: number;
  /** PAX records written in an 'x' header before this entry. */
  pax?: Record<string, string | Buffer>;
}

function octal(buf: Buffer, off: number, len: number, value: number): void {
  buf.write(value.toString(8).padStart(len - 1, '0') + '\0', off, len, 'latin1');
}

export function header(e: Entry, size: number): Buffer {
  const b = Buffer.alloc(512);
  const name = Buffer.from(e.path);
  if (name.length > 100) throw new Error(`name too long for a plain header: ${e.path}`);
  name.copy(b, 0);
  octal(b, 100, 8, e.mode ?? (e.type === '5' ? 0o755 : 0o644));
  octal(b, 108, 8, e.uid ?? 0);
  octal(b, 116, 8, e.gid ?? 0);
  octal(b, 124, 12, size);
  octal(b, 136, 12, e.mtime ?? 1_600_000_000);
  b.write(e.type ?? '0', 156, 1, 'latin1');
  if (e.linkpath !== undefined) Buffer.from(e.linkpath).copy(b, 157, 0, 100);
  b.write('ustar\x0000', 257, 8, 'latin1');
  b.write('root', 265, 'latin1');
  b.write('root', 297, 'latin1');
  octal(b, 329, 8, e.devmajor ?? 0);
  octal(b, 337, 8, e.devminor ?? 0);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return b;
}

function padded(data: Buffer): Buffer {
  const pad = (512 - (data.length % 512)) % 512;
  return Buffer.concat([data, Buffer.alloc(pad)]);
}

function paxRecord(key: string, value: string | Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len++;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

export function makeTar(entries: Entry[], { end = true } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    if (e.pax) {
      const body = paxBody(e.pax);
      parts.push(header({ path: 'PaxHeader', type: 'x' }, body.length), padded(body));
    }
    parts.push(header(e, data.length), padded(data));
  }
  if (end) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** The body of a PAX header ('x' or 'g'): one record per key. */
export function paxBody(records: Record<string, string | Buffer> | [string, string | Buffer][]): Buffer {
  const list = Array.isArray(records) ? records : Object.entries(records);
  return Buffer.concat(list.map(([k, v]) => paxRecord(k, v)));
}

/**
 * The layer that used to kill cribd: a PAX global header of `xattrs` user.* attributes of 64 KiB
 * each, which every one of `files` empty files inherits. About 30 KiB gzipped; unpacked without
 * bounds it asks for gigabytes.
 */
export function globalXattrBomb(files = 5000, xattrs = 15): Buffer {
  const g = paxBody(Array.from({ length: xattrs }, (_, i): [string, Buffer] => [`SCHILY.xattr.user.bomb${i}`, Buffer.alloc(65536, 0x41)]));
  const entries: Entry[] = [{ path: 'pax_global_header', type: 'g', data: g }];
  for (let i = 0; i < files; i++) entries.push({ path: `f${i}`, data: '' });
  return zlib.gzipSync(makeTar(entries), { level: 9 });
}
