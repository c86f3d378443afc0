// Seccomp profiles at their edges: a Localhost profile's fields as the OCI runtime-spec's seccomp
// section defines them (actions, operators, six syscall arguments, unsigned numbers), Docker's form
// as CRI-O (containers/common) and Docker convert it, and what RuntimeDefault adds per architecture.
// No root, no daemon.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defaultSeccompProfile, localhostSeccompProfile } from '../../src/container/spec/seccomp-default.js';
import type { OciSeccomp } from '../../src/oci/spec-types.js';
import { CribError } from '../../src/util/errors.js';

const refused = (profile: unknown, why: string, caps: string[] = []) =>
  assert.throws(
    () => localhostSeccompProfile(profile, caps),
    (e: unknown) => e instanceof CribError && e.kind === 'InvalidArgument' && e.message === `config.linux.security_context.seccomp: Localhost profile ${why}`,
    why,
  );

const ACTIONS = [
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
];
const OPERATORS = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'];

const base = { defaultAction: 'SCMP_ACT_ERRNO' };
const rule = (r: Record<string, unknown>) => ({ ...base, syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', ...r }] });
const arg = (a: Record<string, unknown>) => rule({ args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ', ...a }] });
const names = (p: OciSeccomp) => (p.syscalls ?? []).map((s) => s.names.join(','));

describe('Localhost seccomp profiles: the OCI fields', () => {
  it('takes every action and operator of the runtime-spec', () => {
    for (const action of ACTIONS) {
      assert.equal(localhostSeccompProfile({ defaultAction: action }, []).defaultAction, action);
      assert.equal(localhostSeccompProfile(rule({ action }), []).syscalls?.[0]?.action, action);
    }
    for (const op of OPERATORS) assert.equal(localhostSeccompProfile(arg({ op }), []).syscalls?.[0]?.args?.[0]?.op, op);
  });

  it('passes defaultErrnoRet, flags and the notify listener through; null and "" read as absent', () => {
    const full = {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      flags: ['SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_LOG'],
      listenerPath: '/run/seccomp-agent.sock',
      listenerMetadata: 'opaque-metadata',
    };
    assert.deepEqual(localhostSeccompProfile(full, []), full);
    const nulls = {
      defaultAction: 'SCMP_ACT_LOG',
      defaultErrnoRet: null,
      architectures: null,
      archMap: null,
      flags: null,
      listenerPath: '',
      listenerMetadata: null,
      syscalls: null,
    };
    assert.deepEqual(localhostSeccompProfile(nulls, []), { defaultAction: 'SCMP_ACT_LOG' });
  });

  it('reads null fields of a rule and an argument as absent, and adds none of its own', () => {
    const r = {
      names: ['read'],
      action: 'SCMP_ACT_ALLOW',
      name: null,
      errnoRet: null,
      includes: null,
      excludes: null,
      args: [{ index: 5, value: 0, op: 'SCMP_CMP_EQ', valueTwo: null }],
    };
    assert.deepEqual(localhostSeccompProfile({ ...base, syscalls: [r] }, []).syscalls, [
      { names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 5, value: 0, op: 'SCMP_CMP_EQ' }] },
    ]);
    const caps = { names: ['read'], action: 'SCMP_ACT_ALLOW', includes: { caps: null, arches: null }, excludes: { caps: null, arches: null } };
    assert.deepEqual(names(localhostSeccompProfile({ ...base, syscalls: [caps] }, [])), ['read']);
  });

  it('refuses what is not a profile, naming the field', () => {
    refused(null, 'is not a JSON object');
    refused([], 'is not a JSON object');
    refused('SCMP_ACT_ALLOW', 'is not a JSON object');
    refused({}, 'defaultAction undefined is not a seccomp action');
    refused({ defaultAction: 'ALLOW' }, 'defaultAction "ALLOW" is not a seccomp action');
    refused({ defaultAction: ['SCMP_ACT_ALLOW'] }, 'defaultAction ["SCMP_ACT_ALLOW"] is not a seccomp action');
    for (const v of [-1, 1.5, '1']) refused({ ...base, defaultErrnoRet: v }, 'defaultErrnoRet is not an errno');
    for (const v of ['SCMP_ARCH_X86_64', ['SCMP_ARCH_X86_64', 1], [1]]) refused({ ...base, architectures: v }, 'architectures is not a list of names');
    refused({ ...base, flags: 'SECCOMP_FILTER_FLAG_LOG' }, 'flags is not a list of strings');
    refused({ ...base, flags: [1] }, 'flags is not a list of strings');
    refused({ ...base, listenerPath: 5 }, 'listenerPath is not a string');
    refused({ ...base, listenerMetadata: {} }, 'listenerMetadata is not a string');
    refused({ ...base, syscalls: {} }, 'syscalls is not a list');
  });

  it('refuses a malformed rule, naming it', () => {
    refused({ ...base, syscalls: [null] }, 'syscalls[0] is not an object');
    refused({ ...base, syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }, ['read']] }, 'syscalls[1] is not an object');
    refused(rule({ names: 'read' }), 'syscalls[0].names is not a list of names');
    refused(rule({ names: ['read', 0] }), 'syscalls[0].names is not a list of names');
    refused(rule({ names: undefined, name: 7 }), 'syscalls[0].name is not a name');
    // The runtime-spec: names MUST have at least one entry.
    refused(rule({ names: [] }), 'syscalls[0] names no syscall');
    refused(rule({ action: 'ALLOW' }), 'syscalls[0].action "ALLOW" is not a seccomp action');
    refused(rule({ action: undefined }), 'syscalls[0].action undefined is not a seccomp action');
    for (const v of [-1, 2.5, 'EPERM']) refused(rule({ errnoRet: v }), 'syscalls[0].errnoRet is not an errno');
    refused(rule({ args: {} }), 'syscalls[0].args is not a list');
    refused(rule({ args: [null] }), 'syscalls[0].args[0] is not an object');
    refused(rule({ args: [[]] }), 'syscalls[0].args[0] is not an object');
    // A syscall has six arguments: 0..5.
    for (const index of [6, -1, 1.5, '0', undefined]) refused(arg({ index }), 'syscalls[0].args[0].index is not 0..5');
    for (const value of [-1, 0.5, '1', undefined]) refused(arg({ value }), 'syscalls[0].args[0].value is not a number');
    for (const valueTwo of [-1, 0.5, '1']) refused(arg({ valueTwo }), 'syscalls[0].args[0].valueTwo is not a number');
    refused(arg({ op: 'EQ' }), 'syscalls[0].args[0].op "EQ" is not a seccomp operator');
    refused(arg({ op: undefined }), 'syscalls[0].args[0].op undefined is not a seccomp operator');
  });
});

describe("Localhost seccomp profiles: Docker's form", () => {
  const x86 = { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] };

  it("takes the node's architectures from archMap (x64 unless told), the first entry for it", () => {
    const p = { ...base, archMap: [{ architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] }, x86, { architecture: 'SCMP_ARCH_X86_64' }] };
    assert.deepEqual(localhostSeccompProfile(p, []).architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    assert.deepEqual(localhostSeccompProfile({ ...base, archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: null }] }, []).architectures, [
      'SCMP_ARCH_X86_64',
    ]);
    assert.equal(localhostSeccompProfile({ ...base, archMap: [x86] }, [], 'riscv64').architectures, undefined);
    // An empty architectures list is no list (Docker's len() check): archMap applies.
    assert.deepEqual(localhostSeccompProfile({ ...base, architectures: [], archMap: [x86] }, []).architectures, [
      'SCMP_ARCH_X86_64',
      'SCMP_ARCH_X86',
      'SCMP_ARCH_X32',
    ]);
  });

  it('refuses both architectures and archMap, and malformed archMap entries (as Docker and CRI-O do)', () => {
    refused({ ...base, architectures: ['SCMP_ARCH_X86_64'], archMap: [x86] }, 'has both architectures and archMap (use either)');
    refused({ ...base, archMap: x86 }, 'archMap is not a list');
    refused({ ...base, archMap: [x86, null] }, 'archMap[1] names no architecture');
    refused({ ...base, archMap: [{ subArchitectures: [] }] }, 'archMap[0] names no architecture');
    refused({ ...base, archMap: [{ ...x86, subArchitectures: 'SCMP_ARCH_X86' }] }, 'archMap[0].subArchitectures is not a list of names');
  });

  it('takes name for names, and refuses both (as Docker and CRI-O do)', () => {
    assert.deepEqual(localhostSeccompProfile(rule({ names: null, name: 'write' }), []).syscalls?.[0]?.names, ['write']);
    assert.deepEqual(localhostSeccompProfile(rule({ names: [], name: 'write' }), []).syscalls?.[0]?.names, ['write']);
    assert.deepEqual(localhostSeccompProfile(rule({ name: '' }), []).syscalls?.[0]?.names, ['read']);
    refused(rule({ names: ['read'], name: 'write' }), 'syscalls[0] has both name and names (use either)');
  });

  it('applies includes.caps when all are held, excludes.caps when none is', () => {
    const both = ['CAP_SYS_ADMIN', 'net_admin'];
    const p = {
      ...base,
      syscalls: [
        { names: ['inc'], action: 'SCMP_ACT_ALLOW', includes: { caps: both } },
        { names: ['exc'], action: 'SCMP_ACT_ALLOW', excludes: { caps: both } },
      ],
    };
    assert.deepEqual(names(localhostSeccompProfile(p, [])), ['exc']);
    assert.deepEqual(names(localhostSeccompProfile(p, ['SYS_ADMIN'])), []);
    assert.deepEqual(names(localhostSeccompProfile(p, ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN'])), ['inc']);
    // A name crib does not know is held only by a container that lists it.
    const future = { ...base, syscalls: [{ names: ['x'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_FUTURE'] } }] };
    assert.deepEqual(names(localhostSeccompProfile(future, ['CAP_SYS_ADMIN'])), []);
  });

  it('applies includes.arches on a listed architecture, excludes.arches elsewhere', () => {
    const p = {
      ...base,
      syscalls: [
        { names: ['inc'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32'] } },
        { names: ['exc'], action: 'SCMP_ACT_ALLOW', excludes: { arches: ['amd64'] } },
        { names: ['none'], action: 'SCMP_ACT_ALLOW', includes: { arches: [] }, excludes: { arches: [] } },
      ],
    };
    assert.deepEqual(names(localhostSeccompProfile(p, [], 'x64')), ['inc', 'none']);
    assert.deepEqual(names(localhostSeccompProfile(p, [])), ['inc', 'none']);
    assert.deepEqual(names(localhostSeccompProfile(p, [], 'arm64')), ['exc', 'none']);
    // An architecture crib has no table for matches no list.
    assert.deepEqual(names(localhostSeccompProfile(p, [], 'loong64')), ['exc', 'none']);
  });

  it('refuses malformed includes and excludes, naming them', () => {
    refused(rule({ includes: [] }), 'syscalls[0].includes is not an object');
    refused(rule({ excludes: 'amd64' }), 'syscalls[0].excludes is not an object');
    refused(rule({ includes: { caps: 'CAP_SYS_ADMIN' } }), 'syscalls[0].includes.caps is not a list of names');
    refused(rule({ excludes: { arches: ['amd64', 1] } }), 'syscalls[0].excludes.arches is not a list of names');
  });
});

describe('RuntimeDefault seccomp profile: per rule', () => {
  const allowedNames = (p: OciSeccomp) => new Set((p.syscalls ?? []).filter((s) => s.action === 'SCMP_ACT_ALLOW' && !s.args).flatMap((s) => s.names));

  it('allows personality with each safe value (an ALLOW rule per value)', () => {
    const rules = (defaultSeccompProfile([]).syscalls ?? []).filter((s) => s.names.includes('personality'));
    assert.ok(rules.length > 0);
    for (const r of rules) assert.equal(r.action, 'SCMP_ACT_ALLOW');
  });

  it('gives an architecture it has no table for the portable list only', () => {
    const portable = allowedNames(defaultSeccompProfile([], 'loong64'));
    const x64 = allowedNames(defaultSeccompProfile([], 'x64'));
    for (const n of ['arch_prctl', 'modify_ldt']) assert.ok(x64.has(n) && !portable.has(n), n);
    assert.deepEqual(new Set([...portable, 'arch_prctl', 'modify_ldt']), x64);
  });
});
