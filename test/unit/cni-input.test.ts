// What crib hands the CNI plugins and reads back (src/network): the built-in bridge, kubelet's pod
// CIDR, .conf and .conflist files, runtimeConfig for portmap only, the pod IPs of a result.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { builtinNetwork, parseNetworkConfig } from '../../src/network/cni-config.js';
import { parsePodCidrs } from '../../src/network/pod-cidr.js';
import { isNoop, pluginInput, podIPs } from '../../src/network/cni.js';
import type { CribError } from '../../src/util/errors.js';

describe('CNI', () => {
  it('builds the built-in bridge network', () => {
    const n = builtinNetwork({ name: 'crib', bridge: 'crib0', subnet: '10.85.0.0/16', ipMasq: true, ipamDataDir: '/var/lib/crib/cni/networks' });
    assert.deepEqual(
      n.plugins.map((p) => p.type),
      ['bridge', 'portmap'],
    );
  });
  it("takes kubelet's pod CIDR, one per family, and gives the built-in network a range and a route for each", () => {
    const field = 'runtime_config.network_config.pod_cidr';
    assert.deepEqual(parsePodCidrs(' 10.244.1.0/24 , fd00:1::/64', field), ['10.244.1.0/24', 'fd00:1::/64']);
    assert.deepEqual(parsePodCidrs('', field), []);
    for (const bad of ['10.0.0.1', '10.0.0.0/31', '300.0.0.0/8', '10.0.0.0/8,10.1.0.0/16', 'a,b,c', '::/127']) {
      assert.throws(
        () => parsePodCidrs(bad, field),
        (e: CribError) => e.kind === 'InvalidArgument' && e.message.startsWith(field),
        bad,
      );
    }
    const n = builtinNetwork({ name: 'crib', bridge: 'crib0', subnet: '10.244.1.0/24,fd00:1::/64', ipMasq: false, ipamDataDir: '/d' });
    const ipam = n.plugins[0]?.['ipam'] as { ranges: unknown; routes: unknown };
    assert.deepEqual(ipam.ranges, [[{ subnet: '10.244.1.0/24' }], [{ subnet: 'fd00:1::/64' }]]);
    assert.deepEqual(ipam.routes, [{ dst: '0.0.0.0/0' }, { dst: '::/0' }]);
  });
  it('reads .conf and .conflist files', () => {
    const one = parseNetworkConfig('{"cniVersion":"0.4.0","name":"n","type":"bridge"}', '/x/10-n.conf');
    assert.deepEqual(one.plugins, [{ type: 'bridge' }]);
    assert.throws(() => parseNetworkConfig('{"name":"n","plugins":[]}', '/x/a.conflist'), /plugins/);
  });
  it('gives plugins runtimeConfig only when they ask for port mappings', () => {
    const list = parseNetworkConfig(
      '{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"bridge"},{"type":"portmap","capabilities":{"portMappings":true}}]}',
      'a.conflist',
    );
    const ports = [{ hostPort: 80, containerPort: 8080, protocol: 'tcp' as const }];
    assert.equal(pluginInput(list, list.plugins[0]!, ports, undefined)['runtimeConfig'], undefined);
    assert.deepEqual(pluginInput(list, list.plugins[1]!, ports, { ips: [] })['runtimeConfig'], { portMappings: ports });
    // A container port without a host port is only informational: portmap gets nothing for it.
    const informational = [...ports, { hostPort: 0, containerPort: 9090, protocol: 'tcp' as const }];
    assert.deepEqual(pluginInput(list, list.plugins[1]!, informational, { ips: [] })['runtimeConfig'], { portMappings: ports });
    // portmap with nothing to map is not run at all; other plugins always are.
    assert.equal(isNoop(list.plugins[1]!, ports), false);
    assert.equal(isNoop(list.plugins[1]!, informational.slice(1)), true);
    assert.equal(isNoop(list.plugins[0]!, []), false);
  });
  it('takes IPv4 first from a result', () => {
    const ips = podIPs({ ips: [{ address: 'fd00::5/64' }, { address: '10.0.0.5/24', gateway: '10.0.0.1' }] });
    assert.deepEqual(
      ips.map((i) => i.ip),
      ['10.0.0.5', 'fd00::5'],
    );
  });
});
