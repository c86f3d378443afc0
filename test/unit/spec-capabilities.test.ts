// Capability names and masks at their edges: names as containerd passes them to runc (upper-cased,
// `CAP_` added, nothing trimmed), and the hex masks of /proc/PID/status (proc(5)). No root, no daemon.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { allCapabilities, capabilitiesFromMask, effectiveCapabilities, normalizeCapability } from '../../src/container/spec/capabilities.js';
import { CribError } from '../../src/util/errors.js';

const invalid = (f: () => unknown, msg: RegExp) =>
  assert.throws(f, (e: unknown) => e instanceof CribError && e.kind === 'InvalidArgument' && msg.test(e.message));

describe('capability names', () => {
  it('refuses a name with blanks around it (containerd passes "CAP_ NET_ADMIN" on; runc refuses it)', () => {
    assert.equal(normalizeCapability(' NET_ADMIN'), undefined);
    assert.equal(normalizeCapability('CAP_NET_ADMIN\n'), undefined);
    invalid(() => effectiveCapabilities([' NET_ADMIN'], [], false), /add_capabilities\[0\]: unknown capability " NET_ADMIN"/);
    invalid(() => effectiveCapabilities([], ['ALL '], false), /drop_capabilities\[0\]: unknown capability "ALL "/);
  });

  it('ignores names the runtime reports that crib does not know', () => {
    const have = ['CAP_CHOWN', 'CAP_FUTURE_THING', 'CAP_KILL'];
    assert.deepEqual(effectiveCapabilities(['ALL'], [], false, have), ['CAP_CHOWN', 'CAP_KILL']);
  });
});

describe('/proc status capability masks', () => {
  it('reads the hex field as /proc/PID/status writes it, with its tab and newline', () => {
    assert.deepEqual(capabilitiesFromMask('\t0000000000000041\n'), ['CAP_CHOWN', 'CAP_SETGID']);
    assert.deepEqual(capabilitiesFromMask('0X3'), ['CAP_CHOWN', 'CAP_DAC_OVERRIDE']);
    assert.deepEqual(capabilitiesFromMask('000001FFFFFFFFFF'), [...allCapabilities]);
  });

  it('refuses anything else as an internal error, quoting it', () => {
    for (const bad of ['10x5', 'g1', '1g', '', '0x']) {
      assert.throws(
        () => capabilitiesFromMask(bad),
        (e: unknown) => e instanceof CribError && e.kind === 'Internal' && e.message === `not a capability mask: "${bad}"`,
        bad,
      );
    }
  });
});
