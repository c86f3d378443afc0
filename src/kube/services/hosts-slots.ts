// Where the Service lines sit in a pod's hosts file, and the writes that change them so that no
// reader inside the pod ever sees a line half-written. The file is bind-mounted as the containers'
// /etc/hosts, so it is changed in place (a rename would not reach them), and a write is no atomic
// step for a reader. So every line lives in a slot and is made visible or invisible by its first
// byte alone: a slot is filled while it starts with `#` (a comment to every resolver), and only
// then is its first byte written; a line goes by writing `#` over its first byte. A one-byte write
// is seen whole or not at all. A reader reads the file in chunks (musl 1 KiB, glibc 4 KiB, aligned
// from the start): a line that spanned two chunks could be read half before and half after a
// change, so no slot crosses a 1 KiB boundary (filler comments pad up to one). And a reader's copy
// of one chunk is no atomic step either: a slot is filled again only once it has been hidden for a
// while (REUSE_AFTER_MS), so a copy that began while its old line showed has long ended. Pure (time
// passed in).

export interface HostsWrite {
  offset: number;
  /** ASCII: names and addresses only. */
  data: string;
}

interface Slot {
  offset: number;
  /** Bytes, the newline included: a multiple of SLOT_UNIT, so freed slots fit lines of their class. */
  size: number;
  /** When it was hidden (ms), if it is free. */
  freedAt?: number;
}

/** No slot crosses a multiple of this (the smallest chunk a resolver reads: musl's 1 KiB buffer). */
export const READ_CHUNK = 1024;
/** Slot sizes are rounded up to this: few size classes, so a freed slot is found again for most lines. */
const SLOT_UNIT = 64;
/** How long a hidden slot stays as it is before it is filled again (a read() copies a chunk in microseconds). */
export const REUSE_AFTER_MS = 1000;

export class HostsSlots {
  private readonly live = new Map<string, Slot>();
  /** Freed slots by size, oldest first. */
  private readonly free = new Map<number, Slot[]>();

  /** `end`: the size of the file's fixed part (its header); slots follow it. */
  constructor(private end: number) {}

  /**
   * The slots of a file these writes made (`body`: what follows its header of `headerSize` bytes),
   * as another process left it: a supervisor taking a pod over. Strict: undefined unless every byte
   * is a slot (a multiple of SLOT_UNIT, within one READ_CHUNK, a line padded with spaces or hidden
   * by `#`) or a filler up to a READ_CHUNK boundary, and no line shows twice. Hidden slots count as
   * freed `now` (a reader may still be copying what they held).
   */
  static parse(headerSize: number, body: string, now: number): HostsSlots | undefined {
    const slots = new HostsSlots(headerSize);
    let at = 0;
    while (at < body.length) {
      const nl = body.indexOf('\n', at);
      if (nl < 0) return undefined;
      const size = nl + 1 - at;
      const offset = headerSize + at;
      const text = body.slice(at, nl);
      at = nl + 1;
      const toBoundary = READ_CHUNK - (offset % READ_CHUNK);
      if (/[^\x20-\x7e\t]/.test(text)) return undefined;
      if (size === toBoundary && (size === 1 ? text === '' : /^# *$/.test(text))) {
        slots.end = offset + size; // a filler
        continue;
      }
      if (size % SLOT_UNIT !== 0 || size > toBoundary) return undefined;
      const slot: Slot = { offset, size };
      slots.end = offset + size;
      if (text.startsWith('#')) {
        slot.freedAt = now;
        const list = slots.free.get(size) ?? [];
        list.push(slot);
        slots.free.set(size, list);
        continue;
      }
      const line = text.replace(/ +$/, '');
      if (!line || slots.live.has(line)) return undefined;
      slots.live.set(line, slot);
    }
    return slots;
  }

  /** The file's size once the writes are done. */
  get size(): number {
    return this.end;
  }

  /** The lines shown now. */
  lines(): IterableIterator<string> {
    return this.live.keys();
  }

  /**
   * The writes, in order, that hide `removed` and show `added` (lines without their newline, each
   * at most READ_CHUNK - 1 bytes). Lines not shown, or shown already, are skipped.
   */
  apply(removed: Iterable<string>, added: Iterable<string>, now: number): HostsWrite[] {
    const writes: HostsWrite[] = [];
    for (const line of removed) {
      const slot = this.live.get(line);
      if (!slot) continue;
      this.live.delete(line);
      writes.push({ offset: slot.offset, data: '#' });
      slot.freedAt = now;
      const list = this.free.get(slot.size) ?? [];
      list.push(slot);
      this.free.set(slot.size, list);
    }
    for (const line of added) {
      if (this.live.has(line)) continue;
      if (line.length === 0 || line.length >= READ_CHUNK || line.includes('\n')) throw new Error(`hosts line of ${line.length} bytes cannot be kept in a slot`);
      const size = Math.ceil((line.length + 1) / SLOT_UNIT) * SLOT_UNIT;
      const slot = this.reuse(size, now) ?? this.append(size, writes);
      this.live.set(line, slot);
      // Hidden while filled; shown by its first byte, written last.
      writes.push({ offset: slot.offset, data: `#${line.slice(1)}${' '.repeat(slot.size - line.length - 1)}\n` });
      writes.push({ offset: slot.offset, data: line.charAt(0) });
    }
    return writes;
  }

  /** The oldest free slot of this size hidden long enough, if any. */
  private reuse(size: number, now: number): Slot | undefined {
    const list = this.free.get(size);
    const first = list?.[0];
    if (!list || !first || now - (first.freedAt ?? now) < REUSE_AFTER_MS) return undefined;
    list.shift();
    delete first.freedAt;
    return first;
  }

  /** A new slot at the end, after a filler comment when it would cross a READ_CHUNK boundary. */
  private append(size: number, writes: HostsWrite[]): Slot {
    const room = READ_CHUNK - (this.end % READ_CHUNK);
    if (size > room) {
      writes.push({ offset: this.end, data: room === 1 ? '\n' : `#${' '.repeat(room - 2)}\n` });
      this.end += room;
    }
    const slot = { offset: this.end, size };
    this.end += size;
    return slot;
  }
}
