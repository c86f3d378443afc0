// The files a pod gets from its sandbox (src/sandbox/pod-files.ts): hostname, resolv.conf, hosts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { hostsFile, podHostname, resolvConf } from '../../src/sandbox/pod-files.js';

describe('pod files', () => {
  it('names the pod after the node when it asks for no hostname, as containerd does', () => {
    assert.equal(podHostname({ hostname: 'web' }), 'web');
    assert.equal(podHostname({ hostname: '' }), os.hostname());
  });
  it('writes resolv.conf from the DNS config, else keeps the host one', () => {
    assert.equal(resolvConf({ servers: ['1.1.1.1'], searches: ['a.b'], options: ['ndots:5'] }, 'host'), 'search a.b\nnameserver 1.1.1.1\noptions ndots:5\n');
    assert.equal(resolvConf(undefined, 'nameserver 9.9.9.9\n'), 'nameserver 9.9.9.9\n');
  });
  it('maps the hostname to the pod IP once known', () => {
    assert.doesNotMatch(hostsFile('web'), /web/);
    assert.match(hostsFile('web', '10.0.0.5'), /^10\.0\.0\.5\tweb$/m);
  });
});
