// hostPort end to end: RunPodSandbox's port mappings go to the CNI portmap plugin, so a connection
// to an address of the node (its IP on crib's bridge) and the host port reaches the container; once
// the pod is gone, so is the mapping (and the leak check finds no rule naming the pod's subnet).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { call } from '../src/client/client.js';
import { run } from '../src/util/exec.js';
import type { PodSandboxConfig } from '../src/cri/generated/runtime/v1/PodSandboxConfig.js';
import { TEST_IMAGE, cribdWithBusybox } from './support/busybox-image.js';
import { cniChains } from './support/leaks.js';
import { freePort } from './support/registry.js';
import { waitFor } from './support/wait-for.js';

/** GET / on HOST:PORT: the body, or the error's code (ECONNREFUSED, ...). */
function get(host: string, port: number): Promise<{ body?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: '/', agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => resolve({ body }));
      res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
  });
}

describe('hostPort through the portmap plugin', () => {
  const h = cribdWithBusybox();

  it("reaches the container at the node's address and the host port, and unpublishes it with the pod", async () => {
    const hostPort = await freePort();
    const extra: Partial<PodSandboxConfig> = { port_mappings: [{ protocol: 'TCP', container_port: 8080, host_port: hostPort }] };
    const pod = await h.runPod('published', extra);
    const config = { metadata: { name: 'web' }, image: { image: TEST_IMAGE }, command: ['httpd', '-f', '-p', '8080', '-h', '/www'], log_path: 'web.log' };
    const web = (await call(h.runtime, 'CreateContainer', { pod_sandbox_id: pod, config, sandbox_config: h.podConfig('published', extra) })).container_id;
    await call(h.runtime, 'StartContainer', { container_id: web });
    const podIp = (await h.inspect(pod)).status?.network?.ip ?? '';

    // The bridge's address is this node's (the pod network's gateway).
    const node = `${h.subnetPrefix}.1`;
    const { stdout: addrs } = await run('ip', ['-o', '-4', 'addr', 'show', 'dev', h.bridge]);
    assert.match(addrs, new RegExp(`inet ${node.replaceAll('.', '\\.')}/`), `the node has ${node} on ${h.bridge}`);
    let last: { body?: string; error?: string } = {};
    await waitFor(
      async () => (last = await get(node, hostPort)).body === 'hello from the web container\n',
      () => `the page through ${node}:${hostPort}: ${JSON.stringify(last)}`,
      30_000,
    );
    const { stdout: rules } = await run('iptables-save', ['-t', 'nat']);
    assert.match(
      rules,
      new RegExp(`--dport ${hostPort} .*-j DNAT --to-destination ${podIp.replaceAll('.', '\\.')}:8080`),
      'portmap DNATs the host port to the pod',
    );
    const dnatChain = cniChains(h.networkName, pod)[1] ?? '';
    assert.match(rules, new RegExp(`^:${dnatChain} `, 'm'), "the pod's DNAT chain, named as the leak check names it");

    await call(h.runtime, 'StopPodSandbox', { pod_sandbox_id: pod });
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: pod });
    assert.deepEqual(await get(node, hostPort), { error: 'ECONNREFUSED' }, 'nothing answers on the host port any more');
    // afterEach: no iptables rule names the pod's subnet or network.
  });
});
