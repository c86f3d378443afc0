// Processes as cribd sees them (src/host/process.ts): signal names and numbers, and the liveness
// check the status calls make of every pod and container each second.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { procStat, signalNumber, stillAlive } from '../../src/host/process.js';
import { spawnSync } from 'node:child_process';

describe('signals', () => {
  it('takes the names and numbers runc takes; leaves the rest to runc', () => {
    for (const s of ['SIGTERM', 'TERM', 'term', '15']) assert.equal(signalNumber(s), 15, s);
    assert.equal(signalNumber('SIGKILL'), 9);
    for (const s of ['SIGRTMIN+3', 'NOPE', '0', '99']) assert.equal(signalNumber(s), undefined, s);
  });
});

describe('process liveness for status calls', () => {
  it('trusts a process it saw alive, and sees it gone at once', () => {
    const self = procStat(process.pid)?.startTime ?? '';
    assert.equal(stillAlive(process.pid, self), true);
    assert.equal(stillAlive(process.pid, self), true);
    assert.equal(stillAlive(process.pid, `${self}1`), false, 'another start time is another process');
    const gone = spawnSync('true').pid ?? 0;
    assert.equal(stillAlive(gone, procStat(gone)?.startTime ?? '0'), false);
  });
});
