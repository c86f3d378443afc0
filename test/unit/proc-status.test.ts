// What a stop reads of /proc/PID/status: whether the stop signal has been taken, and whether the
// main process is the init of its own PID namespace (proc(5): masks in hex, bit n-1 for signal n).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isNamespaceInit, parseProcStatus, readProcStatus, signalSettled } from '../../src/host/proc-status.js';

const status = (f: { sigPnd?: string; shdPnd?: string; sigBlk?: string; nsPid?: string }) =>
  [
    'Name:\tsh',
    'State:\tS (sleeping)',
    `NSpid:\t${f.nsPid ?? '4242'}`,
    `SigPnd:\t${f.sigPnd ?? '0000000000000000'}`,
    `ShdPnd:\t${f.shdPnd ?? '0000000000000000'}`,
    `SigBlk:\t${f.sigBlk ?? '0000000000000000'}`,
    'SigIgn:\t0000000000000004',
    'SigCgt:\t0000000000014002',
    '',
  ].join('\n');

const SIGTERM = 15;
const TERM_BIT = (1 << 14).toString(16).padStart(16, '0');

describe('/proc/PID/status for a stop', () => {
  it('sees a stop signal pending for the process or its main thread until it is taken', () => {
    assert.equal(signalSettled(parseProcStatus(status({ shdPnd: TERM_BIT })), SIGTERM), false, 'pending for the process (kill(2))');
    assert.equal(signalSettled(parseProcStatus(status({ sigPnd: TERM_BIT })), SIGTERM), false, 'pending for the main thread');
    assert.equal(signalSettled(parseProcStatus(status({})), SIGTERM), true, 'taken');
    assert.equal(signalSettled(parseProcStatus(status({ shdPnd: '0000000000000100' })), SIGTERM), true, 'another signal pending (SIGKILL) is not this one');
  });

  it('does not wait for a signal the process blocks: it would stay pending for good', () => {
    assert.equal(signalSettled(parseProcStatus(status({ shdPnd: TERM_BIT, sigBlk: TERM_BIT })), SIGTERM), true);
  });

  it('reads real-time signals past bit 31', () => {
    const sig = 64;
    const mask = (1n << 63n).toString(16);
    assert.equal(signalSettled(parseProcStatus(status({ shdPnd: mask })), sig), false);
  });

  it('knows the init of a PID namespace of its own from its last NSpid', () => {
    assert.equal(isNamespaceInit(parseProcStatus(status({ nsPid: '4242\t1' }))), true, 'a container with its own PID namespace');
    assert.equal(isNamespaceInit(parseProcStatus(status({ nsPid: '4242\t7' }))), false, "a container in the pod's PID namespace");
    assert.equal(isNamespaceInit(parseProcStatus(status({ nsPid: '1' }))), false, "the node's init is not a container's");
    assert.equal(isNamespaceInit(parseProcStatus(status({ nsPid: '4242' }))), false, "a process in the node's PID namespace");
  });

  it('reads this process as one in the namespace it was started in, with nothing pending', () => {
    const own = readProcStatus(process.pid);
    assert.ok(own);
    assert.equal(isNamespaceInit(own), false);
    assert.equal(signalSettled(own, SIGTERM), true);
  });
});
