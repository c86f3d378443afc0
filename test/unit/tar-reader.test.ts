// The layer tar reader against the formats' own rules: POSIX ustar (name and prefix, octal fields,
// the checksum, type flags), GNU (base-256 numbers, long names and links, volume labels), pax
// (records, overrides, global headers, xattrs), and the bounds of what the kernel takes (PATH_MAX,
// XATTR_SIZE_MAX, 32-bit ids, 12/20-bit device numbers). And layerRelativePath, the rule that keeps
// an entry inside its layer. Archives are built byte by byte here (test/support/tar.ts).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { TarFormatError, TarReader, type TarEntry } from '../../src/image/layer/tar-reader.js';
import { LAYER_LIMITS, type LayerLimits } from '../../src/image/limits.js';
import { layerRelativePath } from '../../src/image/unpack.js';
import { header, makeTar, paxBody, type Entry } from '../support/tar.js';

interface Read {
  entries: TarEntry[];
  data: Map<string, string>;
  ends: number;
  reader: TarReader;
}

/** Reads `archive` whole, or `step` bytes at a time; ends the input unless `end` is false. */
function read(
  archive: Buffer,
  { step = archive.length, end = true, limits = LAYER_LIMITS }: { step?: number; end?: boolean; limits?: LayerLimits } = {},
): Read {
  const r: Read = { entries: [], data: new Map(), ends: 0, reader: undefined as unknown as TarReader };
  let cur = '';
  r.reader = new TarReader(
    {
      entry: (e) => {
        r.entries.push(e);
        cur = e.path;
      },
      data: (c) => {
        assert.ok(c.length > 0, 'no empty piece of data');
        r.data.set(cur, (r.data.get(cur) ?? '') + c.toString());
      },
      entryEnd: () => r.ends++,
    },
    limits,
  );
  for (let off = 0; off < archive.length; off += step) assert.equal(r.reader.write(archive.subarray(off, off + step)), Math.min(step, archive.length - off));
  if (end) r.reader.end();
  return r;
}

const refuses = (re: RegExp) => (err: unknown) =>
  err instanceof TarFormatError && err.name === 'TarFormatError' && err.message.startsWith('invalid layer tar: ') && re.test(err.message);

/** Recomputes a header's checksum after a test changed it: the unsigned sum, or the signed one old tars wrote. */
function reseal(b: Buffer, signed = false): Buffer {
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += signed && byte > 127 ? byte - 256 : byte;
  b.write((sum >>> 0).toString(8).padStart(6, '0').slice(-6) + '\0 ', 148, 8, 'latin1');
  return b;
}

/** One header (changed by `edit`) and its data, then the end marker. */
function one(e: Entry, edit: (b: Buffer) => void = () => {}, data = Buffer.from(e.data ?? '')): Buffer {
  const h = header(e, data.length);
  edit(h);
  reseal(h);
  return Buffer.concat([h, data, Buffer.alloc((512 - (data.length % 512)) % 512), Buffer.alloc(1024)]);
}

/** A base-256 (GNU) number in a field of `len` bytes. */
function base256(b: Buffer, off: number, len: number, value: bigint): void {
  for (let i = len - 1; i >= 0; i--) {
    b[off + i] = Number(value & 0xffn);
    value >>= 8n;
  }
  b[off] = (b[off] ?? 0) | 0x80;
}

describe('tar reader: ustar', () => {
  test('entries in order with their fields; file data in pieces, split anywhere, padding skipped', () => {
    const archive = makeTar([
      { path: 'dir/', type: '5', mode: 0o750, uid: 1000, gid: 100, mtime: 1_700_000_000 },
      { path: 'dir/file', data: 'x'.repeat(700), mode: 0o4755 },
      { path: 'dir/empty' },
      { path: 'dir/sym', type: '2', linkpath: '../target' },
    ]);
    for (const step of [archive.length, 1, 511, 513]) {
      const r = read(archive, { step });
      assert.deepEqual(
        r.entries.map((e) => [e.type, e.path, e.size, e.mode, e.uid, e.gid, e.mtime, e.linkpath]),
        [
          ['dir', 'dir/', 0, 0o750, 1000, 100, 1_700_000_000, ''],
          ['file', 'dir/file', 700, 0o4755, 0, 0, 1_600_000_000, ''],
          ['file', 'dir/empty', 0, 0o644, 0, 0, 1_600_000_000, ''],
          ['symlink', 'dir/sym', 0, 0o644, 0, 0, 1_600_000_000, '../target'],
        ],
        `step ${step}`,
      );
      assert.equal(r.data.get('dir/file'), 'x'.repeat(700));
      assert.equal(r.ends, 4, 'entryEnd once per entry');
      assert.equal(r.reader.finished, true);
    }
  });

  test('data of whole blocks (no padding) split across writes, and the input ending right after it', () => {
    const r = read(
      makeTar([
        { path: 'f', data: 'x'.repeat(1024) },
        { path: 'g', data: 'y' },
      ]),
      { step: 100 },
    );
    assert.deepEqual([r.data.get('f'), r.data.get('g'), r.ends], ['x'.repeat(1024), 'y', 2]);
    const last = read(makeTar([{ path: 'f', data: 'x'.repeat(512) }], { end: false }));
    assert.deepEqual([last.data.get('f')?.length, last.ends, last.reader.finished], [512, 1, true]);
  });

  // The handler's contract: entryEnd right after entry when the entry has no data, not at the next write.
  test('an entry with no data ends at once: the input may end right after its header', () => {
    const r = read(makeTar([{ path: 'e' }], { end: false }), { end: false });
    assert.deepEqual([r.entries.length, r.ends, r.reader.finished], [1, 1, false], 'no end marker read: not finished');
    r.reader.end();
    assert.equal(r.reader.finished, true, 'end() at an entry boundary finishes it');
    assert.equal(r.reader.write(header({ path: 'late' }, 0)), 512, 'input after the end is taken');
    assert.equal(r.entries.length, 1, 'and ignored');
  });

  // POSIX: the path is prefix + "/" + name when prefix is not empty; only ustar headers have one.
  test('the ustar prefix joins the name with a slash; a pre-POSIX header has no prefix', () => {
    const prefix = 'p'.repeat(155);
    const name = 'n'.repeat(100);
    const withPrefix = (b: Buffer) => {
      b.write(name, 0, 100, 'latin1');
      b.write(prefix, 345, 155, 'latin1');
    };
    assert.equal(read(one({ path: 'x' }, withPrefix)).entries[0]?.path, `${prefix}/${name}`);
    const v7 = (b: Buffer) => {
      withPrefix(b);
      b.fill(0, 257, 265); // no "ustar\0" magic
    };
    assert.equal(read(one({ path: 'x' }, v7)).entries[0]?.path, name);
    assert.equal(read(one({ path: 'x' }, (b) => b.write('dir', 345))).entries[0]?.path, 'dir/x');
  });

  test('type flags: NUL, 0 and 7 are files, 1-6 and GNU D the rest; a pre-POSIX "0" ending in / is a directory', () => {
    const types: [string, TarEntry['type']][] = [
      ['0', 'file'],
      ['7', 'file'],
      ['1', 'link'],
      ['2', 'symlink'],
      ['3', 'char'],
      ['4', 'block'],
      ['5', 'dir'],
      ['6', 'fifo'],
      ['D', 'dir'],
    ];
    for (const [flag, type] of types) assert.equal(read(one({ path: 'e', type: flag })).entries[0]?.type, type, `flag ${flag}`);
    assert.equal(read(one({ path: 'e' }, (b) => (b[156] = 0))).entries[0]?.type, 'file', 'flag NUL');
    const v7 = (flag: number) => (b: Buffer) => {
      b.fill(0, 257, 265);
      b[156] = flag;
    };
    assert.equal(read(one({ path: 'd/' }, v7(0))).entries[0]?.type, 'dir');
    assert.equal(read(one({ path: 'f' }, v7(0))).entries[0]?.type, 'file', 'pre-POSIX, no trailing slash: a file');
    assert.equal(read(one({ path: 'd/' }, v7(0x30))).entries[0]?.type, 'dir');
    assert.equal(read(one({ path: 'd/' }, v7(0x37))).entries[0]?.type, 'file', 'contiguous file: never a directory');
    assert.equal(read(one({ path: 'd/' })).entries[0]?.type, 'file', 'ustar: the flag says file');
  });

  test('unknown type flags and GNU sparse files are refused, naming the flag', () => {
    assert.throws(() => read(one({ path: 'e', type: 'S' })), refuses(/unsupported entry type "S" \("e"\)/));
    assert.throws(() => read(one({ path: 'e', type: 'Z' })), refuses(/unsupported entry type "Z"/));
    assert.throws(() => read(makeTar([{ path: 'e', pax: { 'GNU.sparse.size': '10' } }])), refuses(/sparse files are not supported/));
  });

  test('a GNU volume label is no entry, and its data is skipped', () => {
    const r = read(
      makeTar([
        { path: 'label', type: 'V', data: 'y'.repeat(600) },
        { path: 'f', data: 'ok' },
      ]),
    );
    assert.deepEqual(
      r.entries.map((e) => e.path),
      ['f'],
    );
    assert.deepEqual([...r.data], [['f', 'ok']], "the label's data goes nowhere");
    assert.equal(r.ends, 1, 'and ends no entry');
    const alone = read(makeTar([{ path: 'label', type: 'V' }], { end: false }));
    assert.deepEqual([alone.entries.length, alone.ends], [0, 0], 'a label with no data, then the end of input');
  });

  test('a hard link with content: its bytes are skipped, not delivered', () => {
    const r = read(
      makeTar([
        { path: 'l', type: '1', linkpath: 'f', data: 'z'.repeat(10) },
        { path: 'g', data: 'ok' },
      ]),
    );
    assert.deepEqual(
      r.entries.map((e) => [e.type, e.path, e.linkpath]),
      [
        ['link', 'l', 'f'],
        ['file', 'g', ''],
      ],
    );
    assert.equal(r.data.get('l'), undefined);
    assert.equal(r.ends, 2);
  });
});

describe('tar reader: numbers and the checksum', () => {
  test('octal fields may be led by spaces or NULs and ended by either; an empty field is 0', () => {
    const r = read(
      one({ path: 'e' }, (b) => {
        b.write('  1750\0 ', 108, 8, 'latin1');
        b.write('\0\0\0\0\0\0\0\0', 116, 8, 'latin1');
        b.write('     755', 100, 8, 'latin1');
      }),
    );
    assert.deepEqual([r.entries[0]?.uid, r.entries[0]?.gid, r.entries[0]?.mode], [0o1750, 0, 0o755]);
  });

  test('fields led by NULs, and fields filled to their last byte with digits, end where the field ends', () => {
    assert.equal(read(one({ path: 'e' }, (b) => b.write('\0\x0001750\0', 108, 8, 'latin1'))).entries[0]?.uid, 0o1750);
    // No terminator: the uid field's first digit follows the mode's last.
    assert.equal(read(one({ path: 'e' }, (b) => b.write('00000755', 100, 8, 'latin1'))).entries[0]?.mode, 0o755);
  });

  test('anything else in a numeric field is refused, naming it', () => {
    assert.throws(() => read(one({ path: 'e' }, (b) => b.write('0006x4\0', 100, 8, 'latin1'))), refuses(/bad mode field/));
    assert.throws(() => read(one({ path: 'e' }, (b) => b.write('0000000000x\0', 124, 12, 'latin1'))), refuses(/bad size field/));
    assert.throws(() => read(one({ path: 'c', type: '3' }, (b) => b.write('00x\0', 329, 4, 'latin1'))), refuses(/bad devmajor field/));
    assert.throws(() => read(one({ path: 'c', type: '3' }, (b) => b.write('00x\0', 337, 4, 'latin1'))), refuses(/bad devminor field/));
    const badSum = header({ path: 'e' }, 0);
    badSum.write('00x000\0 ', 148, 8, 'latin1');
    assert.throws(() => read(Buffer.concat([badSum, Buffer.alloc(1024)])), refuses(/bad checksum field/));
    assert.throws(() => read(one({ path: 'e' }, (b) => b.write('00017x0\0', 108, 8, 'latin1'))), refuses(/bad uid field/));
    assert.throws(() => read(one({ path: 'e' }, (b) => b.write('0001 70\0', 116, 8, 'latin1'))), refuses(/bad gid field/));
    assert.throws(() => read(one({ path: 'e' }, (b) => b.write('00000000009\0', 136, 12, 'latin1'))), refuses(/bad mtime field/));
  });

  test('the mode keeps the permission bits (07777), not the file type bits', () => {
    assert.equal(read(one({ path: 'e', mode: 0o106755 })).entries[0]?.mode, 0o6755);
  });

  // GNU: the high bit of the first byte marks a big-endian binary number; 0xff starts a negative one.
  test('base-256 numbers (GNU) for sizes and ids; negative ones and ones past 2^53 are refused', () => {
    const data = Buffer.alloc(3, 0x61);
    const r = read(
      one(
        { path: 'e' },
        (b) => {
          base256(b, 124, 12, 3n);
          base256(b, 108, 8, 0xffffffffn);
          base256(b, 136, 12, 8_589_934_592n); // 2^33 s: past the 11 octal digits' 2^33-1
        },
        data,
      ),
    );
    assert.deepEqual([r.entries[0]?.size, r.entries[0]?.uid, r.entries[0]?.mtime, r.data.get('e')], [3, 0xffffffff, 8_589_934_592, 'aaa']);
    assert.throws(() => read(one({ path: 'e' }, (b) => b.fill(0xff, 108, 116))), refuses(/negative uid/));
    assert.throws(() => read(one({ path: 'e' }, (b) => base256(b, 136, 12, 2n ** 53n))), refuses(/mtime out of range/));
    assert.equal(read(one({ path: 'e' }, (b) => base256(b, 136, 12, 2n ** 53n - 1n))).entries[0]?.mtime, 2 ** 53 - 1);
  });

  // uid_t and gid_t are 32 bits; Linux device numbers have 12 bits of major and 20 of minor.
  test('ids past 32 bits and device numbers past 12/20 bits are refused; other entries ignore the device fields', () => {
    assert.throws(() => read(one({ path: 'e' }, (b) => base256(b, 108, 8, 0x100000000n))), refuses(/uid 4294967296 of "e" is out of range/));
    assert.throws(() => read(one({ path: 'e' }, (b) => base256(b, 116, 8, 0x100000000n))), refuses(/gid 4294967296 of "e" is out of range/));
    const dev = read(one({ path: 'c', type: '3', devmajor: 0xfff, devminor: 0xfffff })).entries[0];
    assert.deepEqual([dev?.devmajor, dev?.devminor], [0xfff, 0xfffff]);
    const block = read(one({ path: 'b', type: '4', devmajor: 8, devminor: 1 })).entries[0];
    assert.deepEqual([block?.devmajor, block?.devminor], [8, 1]);
    assert.throws(() => read(one({ path: 'c', type: '3', devmajor: 0x1000 })), refuses(/device major 4096 of "c" is out of range/));
    assert.throws(() => read(one({ path: 'b', type: '4', devminor: 0x100000 })), refuses(/device minor 1048576 of "b" is out of range/));
    const file = read(one({ path: 'f', devmajor: 0x1000, devminor: 0x100000 })).entries[0];
    assert.deepEqual([file?.devmajor, file?.devminor], [0, 0]);
  });

  // POSIX asks for the unsigned sum with the field as spaces; old tars summed signed bytes.
  test('the checksum: the unsigned sum or the signed one; anything else is refused', () => {
    const high = (b: Buffer) => b.write('é', 0, 'utf8'); // bytes over 127 make the two sums differ
    const h = header({ path: 'x' }, 0);
    high(h);
    assert.equal(read(Buffer.concat([reseal(Buffer.from(h)), Buffer.alloc(1024)])).entries.length, 1);
    assert.equal(read(Buffer.concat([reseal(Buffer.from(h), true), Buffer.alloc(1024)])).entries.length, 1);
    // 127 counts as 127 in both sums (a signed char is negative only from 128).
    const del = header({ path: 'x' }, 0);
    high(del);
    del[10] = 0x7f;
    assert.equal(read(Buffer.concat([reseal(Buffer.from(del), true), Buffer.alloc(1024)])).entries.length, 1);
    const off = reseal(Buffer.from(h));
    off[0] = (off[0] ?? 0) + 1;
    assert.throws(() => read(Buffer.concat([off, Buffer.alloc(1024)])), refuses(/header checksum mismatch/));
  });
});

describe('tar reader: pax and GNU long names', () => {
  test('pax path, linkpath, size, uid, gid, mtime and atime override the header for one entry', () => {
    const r = read(
      makeTar([
        {
          path: 'short',
          type: '2',
          linkpath: 'short-target',
          pax: { path: 'a/very/long/name', linkpath: 'a/long/target', uid: '70000', gid: '80000', mtime: '1700000000.5', atime: '-1.25' },
        },
        { path: 'next' },
      ]),
    );
    const [e, next] = r.entries;
    assert.deepEqual([e?.path, e?.linkpath, e?.uid, e?.gid, e?.mtime, e?.atime], ['a/very/long/name', 'a/long/target', 70000, 80000, 1_700_000_000.5, -1.25]);
    assert.deepEqual([next?.path, next?.uid, next?.mtime, next?.atime], ['next', 0, 1_600_000_000, undefined], 'the next entry has its own header');
  });

  test('a pax size replaces the header size (the data that follows is that long)', () => {
    const body = paxBody({ size: '5' });
    const h = header({ path: 'f' }, 0);
    const archive = Buffer.concat([
      header({ path: 'PaxHeader', type: 'x' }, body.length),
      body,
      Buffer.alloc(512 - body.length),
      h,
      Buffer.from('hello'),
      Buffer.alloc(507),
      Buffer.alloc(1024),
    ]);
    const r = read(archive);
    assert.equal(r.entries[0]?.size, 5);
    assert.equal(r.data.get('f'), 'hello');
  });

  test('a global header sets uid, gid, mtime and atime for the entries after it; an entry header of its own wins', () => {
    const g = paxBody({ uid: '5', gid: '6', mtime: '7', atime: '8', path: 'ignored', linkpath: 'ignored', size: '99' });
    const r = read(makeTar([{ path: 'pax_global_header', type: 'g', data: g }, { path: 'a' }, { path: 'b', pax: { uid: '9', mtime: '10' } }, { path: 'c' }]));
    assert.deepEqual(
      r.entries.map((e) => [e.path, e.uid, e.gid, e.mtime, e.atime, e.size]),
      [
        ['a', 5, 6, 7, 8, 0],
        ['b', 9, 6, 10, 8, 0],
        ['c', 5, 6, 7, 8, 0],
      ],
    );
  });

  test('an empty pax value leaves the header field (pax: it deletes the keyword)', () => {
    const r = read(makeTar([{ path: 'hdr', uid: 3, pax: { path: '', uid: '' } }]));
    assert.deepEqual([r.entries[0]?.path, r.entries[0]?.uid], ['hdr', 3]);
  });

  test('malformed records are refused: bad length, no "=", no newline, a length past the body', () => {
    const withBody = (body: string) => makeTar([{ path: 'PaxHeader', type: 'x', data: body }, { path: 'f' }]);
    assert.equal(read(withBody('12 path=abc\n')).entries[0]?.path, 'abc');
    assert.throws(() => read(withBody('11 path=abc\n')), refuses(/bad PAX record length/), 'length one short');
    assert.throws(() => read(withBody('13 path=abc\n')), refuses(/bad PAX record length/), 'length past the body');
    assert.throws(() => read(withBody('x path=abc\n')), refuses(/bad PAX record length/));
    assert.throws(() => read(withBody('3 a\n')), refuses(/bad PAX record length/), 'a length that covers only itself');
    assert.throws(() => read(withBody('12 path=abcX')), refuses(/bad PAX record length/), 'no newline');
    assert.throws(() => read(withBody('5 ab\n')), refuses(/bad PAX record/));
    assert.throws(() => read(withBody('11 pathabc\n')), refuses(/bad PAX record$/));
    assert.throws(() => read(withBody('nospace')), refuses(/bad PAX record$/));
    assert.throws(() => read(withBody('5 ab\n6 c=d\n')), refuses(/bad PAX record$/), 'the "=" of the next record is not this one\'s');
    assert.throws(() => read(withBody('5 ab\n= x\n')), refuses(/bad PAX record$/), 'nor an "=" right after this record');
    assert.throws(() => read(withBody(' 11 path=ab\n')), refuses(/bad PAX record length/), 'no length before the space');
    assert.throws(() => read(withBody('12 path=abc\n0 uid=1\n')), refuses(/bad PAX record length/), 'a length of 0 after a record');
    assert.throws(() => read(withBody('1e1 a=bcd\n')), refuses(/bad PAX record length/), 'decimal digits only (10 bytes, as 1e1 would say)');
    assert.throws(() => read(withBody('0xa a=bcd\n')), refuses(/bad PAX record length/), 'decimal digits only (0xa)');
    assert.equal(read(withBody('12 path=abc\n\0\0\0')).entries[0]?.path, 'abc', 'NUL padding after the records');
    assert.equal(read(withBody('11 path=a=\n')).entries[0]?.path, 'a=', 'the value runs to the newline');
  });

  test('pax numbers are decimal digits only; times may carry a sign and fraction; nothing past 2^53', () => {
    const uid = (v: string) => read(makeTar([{ path: 'f', pax: { uid: v } }])).entries[0]?.uid;
    assert.equal(uid('4294967295'), 4294967295);
    for (const v of ['-1', '1.5', '0x10', ' 1', '1e3']) assert.throws(() => uid(v), refuses(/bad PAX "uid"/), v);
    assert.throws(() => uid('9007199254740993'), refuses(/PAX "uid" out of range/));
    assert.throws(() => uid('4294967296'), refuses(/uid 4294967296 of "f" is out of range/));
    const mtime = (v: string) => read(makeTar([{ path: 'f', pax: { mtime: v } }])).entries[0]?.mtime;
    assert.equal(mtime('-5'), -5);
    for (const v of ['1.', '.5', '+1', '1e3', '1.2.3']) assert.throws(() => mtime(v), refuses(/bad PAX "mtime"/), v);
    assert.throws(() => mtime('99999999999999999'), refuses(/PAX "mtime" out of range/));
    assert.equal(mtime(String(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER, '2^53-1 is still exact');
    assert.throws(() => read(makeTar([{ path: 'f', pax: { size: '-1' } }])), refuses(/bad PAX "size"/));
  });

  // PATH_MAX (4096 on Linux, counting the NUL): no longer path is made by one system call.
  test('a pax path or linkpath beyond PATH_MAX, or holding a NUL, is refused', () => {
    const long = 'a'.repeat(4096);
    assert.equal(read(makeTar([{ path: 'f', pax: { path: long } }])).entries[0]?.path, long);
    assert.throws(() => read(makeTar([{ path: 'f', pax: { path: `${long}a` } }])), refuses(/PAX path of 4097 bytes is longer than the 4096 allowed/));
    assert.throws(() => read(makeTar([{ path: 'f', type: '2', pax: { linkpath: `${long}a` } }])), refuses(/PAX linkpath of 4097 bytes/));
    assert.throws(() => read(makeTar([{ path: 'f', pax: { path: 'a\0b' } }])), refuses(/PAX path holds a NUL byte/));
  });

  // Go's archive/tar (containerd, Docker) reads at most 1 MiB of pax or GNU long-name header.
  test('an extended header over 1 MiB is refused before it is read', () => {
    const big = header({ path: 'PaxHeader', type: 'x' }, 1024 * 1024 + 1);
    assert.throws(() => read(big, { end: false }), refuses(/extended header of 1048577 bytes is larger than the 1048576 allowed/));
    const justFits = paxBody({ comment: 'c'.repeat(1024 * 1024 - 17) });
    assert.equal(justFits.length, 1024 * 1024);
    assert.equal(read(makeTar([{ path: 'PaxHeader', type: 'x', data: justFits }, { path: 'f' }])).entries[0]?.path, 'f');
  });

  test('GNU long names and link names (L, K), NUL-terminated or not, for the next entry only', () => {
    const name = `${'d/'.repeat(100)}file`;
    const r = read(
      makeTar([
        { path: '././@LongLink', type: 'L', data: `${name}\0junk` },
        { path: '././@LongLink', type: 'K', data: 'l'.repeat(300) },
        { path: 'trunc', type: '2', linkpath: 'trunc-target' },
        { path: 'after' },
        { path: '././@LongLink', type: 'L', data: '' },
        { path: 'empty-long-name' },
        { path: '././@LongLink', type: 'L', data: '\0tail' },
        { path: 'nul-first' },
        { path: '././@LongLink', type: 'L', data: 'a'.repeat(4096) },
        { path: 'longest' },
      ]),
    );
    assert.deepEqual(
      r.entries.map((e) => [e.path, e.linkpath]),
      [
        [name, 'l'.repeat(300)],
        ['after', ''],
        ['', ''],
        ['', ''],
        ['a'.repeat(4096), ''],
      ],
    );
    assert.throws(
      () => read(makeTar([{ path: '././@LongLink', type: 'L', data: 'a'.repeat(4097) }, { path: 'f' }])),
      refuses(/long name of 4097 bytes is longer than the 4096 allowed/),
    );
    assert.throws(() => read(makeTar([{ path: '././@LongLink', type: 'K', data: 'a'.repeat(4097) }, { path: 'f' }])), refuses(/long link name of 4097 bytes/));
  });

  test('a GNU long name wins over a pax path', () => {
    const r = read(
      makeTar([
        { path: '././@LongLink', type: 'L', data: 'gnu-name' },
        { path: 'hdr', pax: { path: 'pax-name' } },
      ]),
    );
    assert.equal(r.entries[0]?.path, 'gnu-name');
  });
});

describe('tar reader: extended attributes', () => {
  test('SCHILY.xattr and LIBARCHIVE.xattr (URL-encoded name, base64 value) records, in order; a later one replaces', () => {
    const r = read(
      makeTar([
        {
          path: 'ping',
          pax: {
            'SCHILY.xattr.security.capability': Buffer.from([1, 0, 0, 2]),
            'LIBARCHIVE.xattr.user.n%C3%A9': Buffer.from('v1').toString('base64'),
            'SCHILY.xattr.user.empty': '',
          },
        },
      ]),
    );
    assert.deepEqual(r.entries[0]?.xattrs, [
      ['security.capability', Buffer.from([1, 0, 0, 2])],
      ['user.né', Buffer.from('v1')],
      ['user.empty', Buffer.alloc(0)],
    ]);
    const alone = read(makeTar([{ path: 'f', pax: { 'LIBARCHIVE.xattr.user.a%20b': Buffer.from([0, 255]).toString('base64') } }]));
    assert.deepEqual(alone.entries[0]?.xattrs, [['user.a b', Buffer.from([0, 255])]]);
    const bad = read(makeTar([{ path: 'f', pax: { 'LIBARCHIVE.xattr.user.%E0%A4%A': 'eA==' } }]));
    assert.deepEqual(bad.entries[0]?.xattrs, [], 'an undecodable name is dropped');
  });

  test("global xattrs reach every later entry; an entry's own replace a global of the same name", () => {
    const g = paxBody({ 'SCHILY.xattr.user.a': 'global', 'SCHILY.xattr.user.b': 'global' });
    const r = read(
      makeTar([{ path: 'g', type: 'g', data: g }, { path: 'x', pax: { 'SCHILY.xattr.user.b': 'own', 'SCHILY.xattr.user.c': 'own' } }, { path: 'y' }]),
    );
    const show = (e?: TarEntry) => e?.xattrs.map(([n, v]) => `${n}=${v.toString()}`);
    assert.deepEqual(show(r.entries[0]), ['user.a=global', 'user.b=own', 'user.c=own']);
    assert.deepEqual(show(r.entries[1]), ['user.a=global', 'user.b=global']);
    const own = read(makeTar([{ path: 'x', pax: { 'SCHILY.xattr.user.o': 'v' } }])).entries[0];
    assert.deepEqual(show(own), ['user.o=v']);
  });

  // XATTR_SIZE_MAX: Linux refuses a value over 64 KiB.
  test('a value over 64 KiB is refused; one of 64 KiB passes', () => {
    assert.equal(read(makeTar([{ path: 'f', pax: { 'SCHILY.xattr.user.v': Buffer.alloc(65536) } }])).entries[0]?.xattrs[0]?.[1].length, 65536);
    assert.throws(
      () => read(makeTar([{ path: 'f', pax: { 'SCHILY.xattr.user.v': Buffer.alloc(65537) } }])),
      refuses(/extended attribute "user.v" of an entry has a value of 65537 bytes, more than the 65536 allowed/),
    );
  });

  test('the count and total size of one entry are bounded, global and own together, a replaced one counted once', () => {
    const limits = { ...LAYER_LIMITS, xattrsPerEntry: 2, xattrBytesPerEntry: 20 };
    const x = (pairs: Record<string, string>) => Object.fromEntries(Object.entries(pairs).map(([k, v]) => [`SCHILY.xattr.${k}`, v]));
    assert.equal(read(makeTar([{ path: 'f', pax: x({ a: '1', b: '2' }) }]), { limits }).entries[0]?.xattrs.length, 2);
    assert.throws(
      () => read(makeTar([{ path: 'f', pax: x({ a: '1', b: '2', c: '3' }) }]), { limits }),
      refuses(/an entry has more than 2 extended attributes/),
    );
    // 1+9 and 1+9 bytes: exactly 20; one more byte crosses.
    assert.equal(read(makeTar([{ path: 'f', pax: x({ a: '123456789', b: '123456789' }) }]), { limits }).entries[0]?.xattrs.length, 2);
    assert.throws(
      () => read(makeTar([{ path: 'f', pax: x({ a: '123456789', b: '1234567890' }) }]), { limits }),
      refuses(/an entry has extended attributes of more than 20 bytes/),
    );
    const replaced: [string, string][] = [
      ['SCHILY.xattr.a', '123456789'],
      ['SCHILY.xattr.a', '123456789'],
      ['SCHILY.xattr.b', '123456789'],
    ];
    assert.equal(read(makeTar([{ path: 'PaxHeader', type: 'x', data: paxBody(replaced) }, { path: 'f' }]), { limits }).entries[0]?.xattrs.length, 2);
    const g = paxBody([['SCHILY.xattr.a', '123456789']]);
    assert.throws(
      () =>
        read(
          makeTar([
            { path: 'g', type: 'g', data: g },
            { path: 'f', pax: x({ b: '1', c: '2' }) },
          ]),
          { limits },
        ),
      refuses(/entry "f" has more than 2 extended attributes/),
    );
    assert.throws(
      () =>
        read(
          makeTar([
            { path: 'g', type: 'g', data: g },
            { path: 'f', pax: x({ b: '1234567890' }) },
          ]),
          { limits },
        ),
      refuses(/entry "f" has extended attributes of more than 20 bytes/),
    );
    assert.throws(
      () => read(makeTar([{ path: 'g', type: 'g', data: paxBody(x({ a: '1', b: '2', c: '3' })) }]), { limits }),
      refuses(/the global header has more than 2/),
    );
  });
});

describe('tar reader: the end, and bounds on work', () => {
  test('one zero block ends the archive; what follows is taken and ignored', () => {
    const r = read(Buffer.concat([makeTar([{ path: 'a' }], { end: false }), Buffer.alloc(512), header({ path: 'after' }, 0)]), { step: 100 });
    assert.deepEqual(
      r.entries.map((e) => e.path),
      ['a'],
    );
    assert.equal(r.reader.finished, true);
  });

  test('input ending inside a header, inside data or its padding, or after an extended header is refused; at an entry boundary it is fine', () => {
    const archive = makeTar([{ path: 'f', data: 'abc' }], { end: false });
    assert.equal(read(archive).entries.length, 1, 'no end marker: tar tolerates it');
    for (const cut of [1, 511, 513, 515, 1023]) assert.throws(() => read(archive.subarray(0, cut)), refuses(/unexpected end of archive/), `cut at ${cut}`);
    assert.throws(
      () => read(makeTar([{ path: 'PaxHeader', type: 'x', data: paxBody({ path: 'p' }) }], { end: false })),
      refuses(/archive ends after an extended header/),
    );
    assert.throws(() => read(makeTar([{ path: '././@LongLink', type: 'L', data: 'n' }], { end: false })), refuses(/archive ends after an extended header/));
    assert.throws(() => read(makeTar([{ path: '././@LongLink', type: 'K', data: 'n' }], { end: false })), refuses(/archive ends after an extended header/));
    assert.equal(read(makeTar([{ path: 'g', type: 'g', data: paxBody({ uid: '1' }) }], { end: false })).entries.length, 0, 'a global header alone is fine');
    assert.equal(read(makeTar([{ path: 'PaxHeader', type: 'x' }], { end: false })).entries.length, 0, 'so is an empty one: it overrides nothing');
    const r = read(makeTar([{ path: 'f' }]));
    r.reader.end();
    assert.equal(r.reader.finished, true, 'end after the end is harmless');
  });

  test('entries past the limit are refused; extended headers do not count', () => {
    const limits = { ...LAYER_LIMITS, entries: 2 };
    assert.equal(
      read(
        makeTar([
          { path: 'a', pax: { uid: '1' } },
          { path: 'b', pax: { uid: '2' } },
        ]),
        { limits },
      ).entries.length,
      2,
    );
    assert.throws(() => read(makeTar([{ path: 'a' }, { path: 'b' }, { path: 'c' }]), { limits }), refuses(/more than 2 entries in one layer/));
  });

  test('past its deadline, write stops at the next entry boundary and says how much it took', () => {
    const archive = makeTar([{ path: 'a', data: 'x' }, { path: 'b' }, { path: 'c' }]);
    const seen: string[] = [];
    const reader = new TarReader({ entry: (e) => seen.push(e.path), data: () => {}, entryEnd: () => {} });
    let off = 0;
    for (let round = 0; off < archive.length && round < 20; round++) off += reader.write(archive.subarray(off), 0);
    assert.deepEqual(seen, ['a', 'b', 'c']);
    assert.equal(reader.finished, true);
    const once = new TarReader({ entry: () => {}, data: () => {}, entryEnd: () => {} });
    assert.equal(once.write(archive, 0), 1024, 'the first entry (header and data), then a stop');
    assert.equal(new TarReader({ entry: () => {}, data: () => {}, entryEnd: () => {} }).write(archive), archive.length, 'no deadline: all of it');
    const later = performance.now() + 3_600_000;
    assert.equal(
      new TarReader({ entry: () => {}, data: () => {}, entryEnd: () => {} }).write(archive, later),
      archive.length,
      'a deadline not passed: all of it',
    );
  });
});

describe('layerRelativePath', () => {
  test('normalizes: a leading slash, "." and empty components go; ".." takes back one component', () => {
    assert.equal(layerRelativePath('./a//b/./c/'), 'a/b/c');
    assert.equal(layerRelativePath('/abs/path'), 'abs/path');
    assert.equal(layerRelativePath('a/b/../c'), 'a/c');
    assert.equal(layerRelativePath('a/..'), '');
    assert.equal(layerRelativePath('./'), '');
    assert.equal(layerRelativePath(''), '');
    assert.equal(layerRelativePath('a/...'), 'a/...', '"..." is a name');
    assert.equal(layerRelativePath('..a/b..'), '..a/b..');
  });

  test('refuses a path that climbs out of the layer or holds a NUL', () => {
    for (const p of ['..', '../evil', 'a/../../evil', '/../evil', './..', 'a/b/../../..', 'ok\0/x'])
      assert.equal(layerRelativePath(p), undefined, JSON.stringify(p));
  });
});
