// Protobuf encoding and decoding driven by the protos' JSON descriptors (src/cri/generated/protos.json),
// for the CLI: protobufjs builds every type of the protos and compiles code for each one used, which
// was a third of a command's time. Values have the shape src/cri/proto.ts gives cribd's (protobufjs'
// fromObject/toObject with keepCase, longs as decimal strings, enums as numbers, defaults, arrays,
// objects), so one set of generated types serves both; test/unit/grpc-client.test.ts compares them.
// Covers what the CRI protos use: proto3 scalars, enums, messages, repeated fields, maps (no oneofs,
// no groups, no 32-bit fixed types).

/** The descriptor JSON protobufjs writes (Root.toJSON). */
export interface NamespaceJson {
  nested?: Record<string, NamespaceJson & TypeJson & EnumJson & ServiceJson>;
}
interface TypeJson {
  fields?: Record<string, { type: string; id: number; rule?: string; keyType?: string }>;
}
interface EnumJson {
  values?: Record<string, number>;
}
interface ServiceJson {
  methods?: Record<string, { requestType: string; responseType: string; responseStream?: boolean }>;
}

export type Kind = 'string' | 'bool' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'double' | 'bytes' | 'enum' | 'message';

export interface Field {
  name: string;
  id: number;
  kind: Kind;
  repeated: boolean;
  /** The map's key kind (always string in the CRI) when this is a map. */
  mapKey?: Kind;
  /** The message's or enum's full name. */
  ref?: string;
}

interface MessageType {
  /** By id, as protobufjs writes them. */
  fields: Field[];
  byId: Map<number, Field>;
}

const SCALARS = new Set<string>(['string', 'bool', 'int32', 'uint32', 'int64', 'uint64', 'double', 'bytes']);
const PACKABLE = new Set<Kind>(['bool', 'int32', 'uint32', 'int64', 'uint64', 'double', 'enum']);
const WIRE: Record<Kind, number> = { string: 2, bytes: 2, message: 2, bool: 0, int32: 0, uint32: 0, int64: 0, uint64: 0, enum: 0, double: 1 };

export interface MethodInfo {
  path: string;
  requestType: string;
  responseType: string;
  responseStream: boolean;
}

export class ProtoCodec {
  private readonly defs = new Map<string, NamespaceJson & TypeJson & EnumJson & ServiceJson>();
  private readonly messages = new Map<string, MessageType>();

  constructor(root: NamespaceJson) {
    const index = (ns: NamespaceJson, prefix: string) => {
      for (const [name, d] of Object.entries(ns.nested ?? {})) {
        const full = prefix ? `${prefix}.${name}` : name;
        this.defs.set(full, d);
        index(d, full);
      }
    };
    index(root, '');
  }

  /** A service's method by full service name ("runtime.v1.RuntimeService") and method name. */
  method(service: string, name: string): MethodInfo | undefined {
    const m = this.defs.get(service)?.methods?.[name];
    if (!m) return undefined;
    const scope = service.split('.').slice(0, -1);
    return {
      path: `/${service}/${name}`,
      requestType: this.resolve(m.requestType, scope),
      responseType: this.resolve(m.responseType, scope),
      responseStream: m.responseStream === true,
    };
  }

  encode(type: string, value: object): Buffer {
    const w = new Writer();
    this.writeMessage(w, type, value as Record<string, unknown>);
    return w.finish();
  }

  decode(type: string, bytes: Buffer): Record<string, unknown> {
    return this.readMessage(new Reader(bytes), type, bytes.length, 0);
  }

  /** A message type's fields, by field number (for renderings other than the wire: grpc/proto-json.ts). */
  fields(type: string): readonly Field[] {
    return this.messageType(type).fields;
  }

  /** An enum's value names by number (the first name of a number, as protobuf's JSON mapping takes). */
  enumNames(type: string): ReadonlyMap<number, string> {
    const out = new Map<number, string>();
    for (const [name, n] of Object.entries(this.defs.get(type)?.values ?? {})) if (!out.has(n)) out.set(n, name);
    return out;
  }

  /** protobufjs' lookup: the name in the scope, then in each enclosing one. */
  private resolve(name: string, scope: string[]): string {
    if (name.startsWith('.')) return name.slice(1);
    for (let i = scope.length; i >= 0; i--) {
      const full = [...scope.slice(0, i), name].join('.');
      if (this.defs.has(full)) return full;
    }
    throw new Error(`unknown protobuf type ${name} (in ${scope.join('.')})`);
  }

  private messageType(full: string): MessageType {
    let t = this.messages.get(full);
    if (t) return t;
    const d = this.defs.get(full);
    if (!d?.fields) throw new Error(`${full} is not a message type`);
    const scope = full.split('.');
    const fields = Object.entries(d.fields)
      .map(([name, f]): Field => {
        const repeated = f.rule === 'repeated';
        const mapKey = f.keyType as Kind | undefined;
        if (SCALARS.has(f.type)) return { name, id: f.id, kind: f.type as Kind, repeated, ...(mapKey ? { mapKey } : {}) };
        const ref = this.resolve(f.type, scope);
        const kind: Kind = this.defs.get(ref)?.values ? 'enum' : 'message';
        return { name, id: f.id, kind, repeated, ref, ...(mapKey ? { mapKey } : {}) };
      })
      .sort((a, b) => a.id - b.id);
    t = { fields, byId: new Map(fields.map((f) => [f.id, f])) };
    this.messages.set(full, t);
    return t;
  }

  // --- encoding (protobufjs' fromObject, then encode) ---

  private writeMessage(w: Writer, type: string, v: Record<string, unknown>): void {
    for (const f of this.messageType(type).fields) {
      const x = v[f.name];
      if (x === null || x === undefined) continue;
      if (f.mapKey) {
        if (typeof x !== 'object') throw new TypeError(`.${type}.${f.name}: object expected`);
        for (const [k, e] of Object.entries(x as Record<string, unknown>)) {
          const entry = new Writer();
          this.writeValue(entry, { ...f, id: 1, kind: f.mapKey, repeated: false }, k, type);
          if (e !== null && e !== undefined) this.writeValue(entry, { ...f, id: 2, repeated: false }, e, type);
          w.tag(f.id, 2);
          w.bytes(entry.finish());
        }
      } else if (f.repeated) {
        if (!Array.isArray(x)) throw new TypeError(`.${type}.${f.name}: array expected`);
        if (PACKABLE.has(f.kind)) {
          if (!x.length) continue;
          const packed = new Writer();
          for (const e of x as unknown[]) this.writeScalar(packed, f, e);
          w.tag(f.id, 2);
          w.bytes(packed.finish());
        } else for (const e of x as unknown[]) this.writeValue(w, f, e, type);
      } else this.writeValue(w, f, x, type);
    }
  }

  private writeValue(w: Writer, f: Field, x: unknown, type: string): void {
    if (f.kind === 'message') {
      if (typeof x !== 'object' || x === null) throw new TypeError(`.${type}.${f.name}: object expected`);
      const sub = new Writer();
      this.writeMessage(sub, f.ref as string, x as Record<string, unknown>);
      w.tag(f.id, 2);
      w.bytes(sub.finish());
      return;
    }
    if (f.kind === 'enum' && typeof x === 'string' && this.defs.get(f.ref as string)?.values?.[x] === undefined) return; // protobufjs leaves an unknown name unset
    w.tag(f.id, WIRE[f.kind]);
    this.writeScalar(w, f, x);
  }

  private writeScalar(w: Writer, f: Field, x: unknown): void {
    switch (f.kind) {
      case 'string':
        w.bytes(Buffer.from(String(x), 'utf8'));
        break;
      case 'bytes':
        w.bytes(typeof x === 'string' ? Buffer.from(x, 'base64') : Buffer.from(x as Uint8Array));
        break;
      case 'bool':
        w.uvarint(x ? 1 : 0);
        break;
      case 'int32':
        this.writeInt32(w, Number(x) | 0);
        break;
      case 'uint32':
        w.uvarint(Number(x) >>> 0);
        break;
      case 'int64':
      case 'uint64':
        w.varint(BigInt.asUintN(64, BigInt(typeof x === 'number' ? Math.trunc(x) : String(x))));
        break;
      case 'enum': {
        const n = typeof x === 'string' ? (this.defs.get(f.ref as string)?.values?.[x] ?? 0) : Number(x) | 0;
        this.writeInt32(w, n);
        break;
      }
      case 'double':
        w.double(Number(x));
        break;
      case 'message':
        throw new Error('a message is not a scalar');
    }
  }

  /** A negative int32 takes ten bytes, sign-extended to 64 bits. */
  private writeInt32(w: Writer, n: number): void {
    if (n >= 0) w.uvarint(n);
    else w.varint(BigInt.asUintN(64, BigInt(n)));
  }

  // --- decoding (protobufjs' decode, then toObject) ---

  private readMessage(r: Reader, type: string, end: number, depth: number): Record<string, unknown> {
    if (depth > 100) throw new Error('max depth exceeded');
    const t = this.messageType(type);
    // Keys in toObject's order: lists, then maps, then the rest with their defaults.
    const out: Record<string, unknown> = {};
    for (const f of t.fields) if (f.repeated && !f.mapKey) out[f.name] = [];
    for (const f of t.fields) if (f.mapKey) out[f.name] = {};
    for (const f of t.fields) if (!f.repeated && !f.mapKey) out[f.name] = defaultValue(f);
    while (r.pos < end) {
      const tag = r.varint32();
      const f = t.byId.get(tag >>> 3);
      const wire = tag & 7;
      if (!f) {
        r.skip(wire);
        continue;
      }
      if (f.mapKey) {
        const entryEnd = r.length();
        let key = '';
        let value: unknown;
        while (r.pos < entryEnd) {
          const et = r.varint32();
          if (et >>> 3 === 1) key = this.readValue(r, { ...f, kind: f.mapKey, repeated: false }, depth) as string;
          else if (et >>> 3 === 2) value = this.readValue(r, f, depth);
          else r.skip(et & 7);
        }
        (out[f.name] as Record<string, unknown>)[key] = value ?? defaultValue(f);
      } else if (f.repeated) {
        const list = out[f.name] as unknown[];
        if (wire === 2 && PACKABLE.has(f.kind)) {
          const listEnd = r.length();
          while (r.pos < listEnd) list.push(this.readValue(r, f, depth));
        } else list.push(this.readValue(r, f, depth));
      } else out[f.name] = this.readValue(r, f, depth);
    }
    if (r.pos !== end) throw new RangeError('message overruns its length');
    return out;
  }

  private readValue(r: Reader, f: Field, depth: number): unknown {
    switch (f.kind) {
      case 'message': {
        const len = r.length();
        return this.readMessage(r, f.ref as string, len, depth + 1);
      }
      case 'string':
        return r.bytes().toString('utf8');
      case 'bytes':
        return r.bytes();
      case 'bool':
        return r.varint32() !== 0;
      case 'int32':
      case 'enum':
        return r.varint32() | 0;
      case 'uint32':
        return r.varint32();
      case 'int64':
        return BigInt.asIntN(64, r.varint64()).toString();
      case 'uint64':
        return r.varint64().toString();
      case 'double':
        return r.double();
    }
  }
}

function defaultValue(f: Field): unknown {
  switch (f.kind) {
    case 'message':
      return null;
    case 'string':
      return '';
    case 'bytes':
      return Buffer.alloc(0);
    case 'bool':
      return false;
    case 'int64':
    case 'uint64':
      return '0';
    default:
      return 0;
  }
}

class Writer {
  private buf = Buffer.allocUnsafe(256);
  private pos = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** 0 <= n < 2^32, without BigInt. */
  uvarint(n: number): void {
    this.room(5);
    let x = n >>> 0;
    while (x > 0x7f) {
      this.buf[this.pos++] = (x & 0x7f) | 0x80;
      x >>>= 7;
    }
    this.buf[this.pos++] = x;
  }

  varint(v: bigint): void {
    this.room(10);
    let x = v;
    while (x > 0x7fn) {
      this.buf[this.pos++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.buf[this.pos++] = Number(x);
  }

  tag(id: number, wire: number): void {
    this.uvarint(((id << 3) | wire) >>> 0);
  }

  bytes(b: Uint8Array): void {
    this.uvarint(b.length);
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  double(n: number): void {
    this.room(8);
    this.buf.writeDoubleLE(n, this.pos);
    this.pos += 8;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}

  varint64(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.buf.length) throw new RangeError('truncated varint');
      const b = this.buf[this.pos++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, result);
    }
    throw new RangeError('varint longer than 10 bytes');
  }

  /** A varint's low 32 bits, unsigned, without BigInt (tags, lengths, 32-bit values). */
  varint32(): number {
    let v = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw new RangeError('truncated varint');
      const b = this.buf[this.pos++] as number;
      if (i < 5) v |= (b & 0x7f) << (7 * i);
      if (b < 0x80) return v >>> 0;
    }
    throw new RangeError('varint longer than 10 bytes');
  }

  /** A length prefix, checked against the buffer; returns where the bytes end. */
  length(): number {
    const n = this.varint32();
    const end = this.pos + n;
    if (end > this.buf.length) throw new RangeError('length beyond the message');
    return end;
  }

  bytes(): Buffer {
    const end = this.length();
    const b = this.buf.subarray(this.pos, end);
    this.pos = end;
    return b;
  }

  double(): number {
    if (this.pos + 8 > this.buf.length) throw new RangeError('truncated double');
    const n = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return n;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint64();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.pos = this.length();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`wire type ${wire} at ${this.pos}`);
    if (this.pos > this.buf.length) throw new RangeError('field beyond the message');
  }
}
