// The registry that sandboxes and containers share: names, prefixes, records and crash rollback.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Registry } from '../../src/store/object-registry.js';
import { CribError } from '../../src/util/errors.js';

interface Thing {
  id: string;
  phase: 'creating' | 'ready';
  name: string;
}

function fresh(dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-registry-'))) {
  return { dir, reg: new Registry<Thing>({ dir, field: 'thing_id', noun: 'thing', nameKey: (t) => t.name }) };
}

const kind = (k: string) => (e: unknown) => e instanceof CribError && e.kind === k;

describe('registry', () => {
  it('reserves names, finds by unique prefix, and tells malformed from unknown ids', async () => {
    const { dir, reg } = fresh();
    await reg.open(async () => undefined);
    const a: Thing = { id: 'abc123', phase: 'ready', name: 'a' };
    reg.reserve('a', a.id, 'thing "a"');
    assert.throws(
      () => reg.reserve('a', 'other', 'thing "a"'),
      (e: unknown) => kind('AlreadyExists')(e) && /thing "a" already exists as abc123/.test((e as Error).message),
    );
    reg.add(a);
    await reg.save(a);
    reg.add({ id: 'abd999', phase: 'ready', name: 'b' });
    assert.equal(reg.get('abc').id, 'abc123');
    assert.throws(
      () => reg.find('ab'),
      (e: unknown) => kind('InvalidArgument')(e) && /thing_id.*ambiguous/.test((e as Error).message),
    );
    assert.throws(() => reg.get('../etc'), kind('InvalidArgument'));
    assert.throws(() => reg.get('ffff'), kind('NotFound'));
    await reg.delete(a);
    assert.equal(reg.find('abc123'), undefined);
    reg.reserve('a', 'new', 'thing "a"'); // the name is free again
    assert.deepEqual(fs.readdirSync(dir), []);
    fs.rmSync(dir, { recursive: true });
  });

  it('rolls back what a crash left creating, keeps the rest, and retries a failed rollback next time', async () => {
    const { dir, reg } = fresh();
    await reg.open(async () => undefined);
    await reg.save({ id: 'half', phase: 'creating', name: 'h' });
    await reg.save({ id: 'whole', phase: 'ready', name: 'w' });
    await reg.save({ id: 'stuck', phase: 'creating', name: 's' });

    const again = fresh(dir).reg;
    const rolledBack: string[] = [];
    await again.open(async (t) => {
      rolledBack.push(t.id);
      if (t.id === 'stuck') throw new Error('busy');
    });
    assert.deepEqual(rolledBack.sort(), ['half', 'stuck']);
    assert.deepEqual(
      again.values().map((t) => t.id),
      ['whole'],
    );
    assert.throws(() => again.reserve('w', 'x', 'thing "w"'), kind('AlreadyExists'));
    // The failed rollback's record stays for the next start; the done one is gone.
    assert.deepEqual(fs.readdirSync(dir).sort(), ['stuck.json', 'whole.json']);
    fs.rmSync(dir, { recursive: true });
  });

  it('rolls back a failed creation: its teardown, then its record and name go; a failed teardown keeps the record for the next start', async () => {
    const { dir, reg } = fresh();
    await reg.open(async () => undefined);
    const failed: Thing = { id: 'failed', phase: 'creating', name: 'f' };
    reg.reserve('f', failed.id, 'thing "f"');
    await reg.save(failed);
    const tornDown: string[] = [];
    await reg.rollback(failed, async (t) => void tornDown.push(t.id));
    assert.deepEqual(tornDown, ['failed']);
    assert.equal(reg.find('failed'), undefined, 'never joined the live set');
    assert.deepEqual(fs.readdirSync(dir), []);
    reg.reserve('f', 'next', 'thing "f"'); // the name is free again

    const stuck: Thing = { id: 'stuck', phase: 'creating', name: 's' };
    reg.reserve('s', stuck.id, 'thing "s"');
    await reg.save(stuck);
    await reg.rollback(stuck, async () => {
      throw new Error('busy');
    });
    reg.reserve('s', 'other', 'thing "s"');
    assert.deepEqual(fs.readdirSync(dir), ['stuck.json'], 'kept for the next start to roll back');
    fs.rmSync(dir, { recursive: true });
  });
});
