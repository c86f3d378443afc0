import fs from 'node:fs/promises';
import { builtinNetwork, findPlugin, firstNetworkConfig } from './cni-config.js';
import { cniAdd, cniDel, type CniContext } from './cni.js';
import { parsePodCidrs } from './pod-cidr.js';
import type { NetworkAttachment, NetworkConfigList, PodNetworkIdentity, PortMapping } from './types.js';
import type { BuiltinNetwork } from './cni-config.js';
import { isErrno, writeFileAtomic } from '../util/fsx.js';
import { log } from '../util/log.js';

export interface NetworkManagerOptions {
  confDir: string;
  binDirs: readonly string[];
  /** crib's own network when confDir holds no config; absent: none, the network is not ready until one appears. */
  builtin?: BuiltinNetwork;
  /** Where kubelet's pod CIDR (UpdateRuntimeConfig) is kept, so a restarted cribd still uses it. */
  podCidrFile: string;
}

export interface NetworkStatus {
  ready: boolean;
  reason: string;
  message: string;
  network?: NetworkConfigList;
}

/**
 * Chooses the pod network (first CNI config in the directory, else crib's bridge) and attaches pods
 * to it. The directory is read at each use, so a config that appears or goes away counts at once.
 */
export class NetworkManager {
  /** kubelet's pod CIDR, which replaces the built-in network's subnet once kubelet sends one. */
  private podCidr = '';

  constructor(private readonly o: NetworkManagerOptions) {}

  /** Loads the pod CIDR kubelet gave an earlier cribd; a damaged file is ignored (kubelet sends it again on change). */
  async open(): Promise<void> {
    try {
      this.podCidr = parsePodCidrs(await fs.readFile(this.o.podCidrFile, 'utf8'), this.o.podCidrFile).join(',');
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) log.warn('ignoring the stored pod CIDR', { file: this.o.podCidrFile, error: err });
    }
  }

  /** UpdateRuntimeConfig: new pods on the built-in network get addresses from `text`; running pods keep theirs. */
  async setPodCidr(text: string, field: string): Promise<void> {
    const cidrs = parsePodCidrs(text, field).join(',');
    if (!cidrs || cidrs === this.podCidr) return;
    await writeFileAtomic(this.o.podCidrFile, cidrs + '\n', 0o600);
    this.podCidr = cidrs;
    log.info('pod CIDR set', { podCidr: cidrs, usedBy: this.o.builtin ? 'the built-in network' : 'nothing (no built-in network)' });
  }

  async status(): Promise<NetworkStatus> {
    const choice = await firstNetworkConfig(this.o.confDir);
    const skipped = choice.problems.length ? `; skipped configs: ${choice.problems.join('; ')}` : '';
    const builtin = this.o.builtin && { ...this.o.builtin, subnet: this.podCidr || this.o.builtin.subnet };
    const network = choice.network ?? (builtin && builtinNetwork(builtin));
    if (!network) return { ready: false, reason: 'NetworkPluginNotReady', message: `no network config found in ${this.o.confDir}${skipped}` };
    const types = new Set<string>(network.plugins.map((p) => p.type));
    for (const p of network.plugins) {
      const ipam = p['ipam'] as { type?: unknown } | undefined;
      if (ipam && typeof ipam.type === 'string') types.add(ipam.type);
    }
    const missing: string[] = [];
    for (const t of types) if (!(await findPlugin(t, this.o.binDirs))) missing.push(t);
    if (missing.length) {
      return {
        ready: false,
        reason: 'NetworkPluginNotReady',
        message: `network ${network.name} (${network.source}): CNI plugin(s) ${missing.join(', ')} not found in ${this.o.binDirs.join(':')}${skipped}`,
        network,
      };
    }
    return { ready: true, reason: '', message: `network ${network.name} from ${network.source}`, network };
  }

  /** The network new pods join; throws when it is not usable. */
  async resolve(): Promise<NetworkConfigList> {
    const st = await this.status();
    if (!st.ready || !st.network) throw new Error(`pod network is not ready: ${st.message}`);
    return st.network;
  }

  /**
   * ADD of the pod network (lo is up already: the netns was made so, see src/sandbox/pod-mounts.ts);
   * a failed chain, or one whose request was cancelled (`signal` kills the plugin that runs), is
   * DELeted before the error is returned, to the end whatever the request does.
   */
  async attach(
    network: NetworkConfigList,
    pod: PodNetworkIdentity,
    netnsPath: string,
    portMappings: PortMapping[],
    signal?: AbortSignal,
  ): Promise<NetworkAttachment> {
    const ctx: CniContext = { binDirs: this.o.binDirs, netnsPath, ifName: 'eth0', pod, portMappings };
    try {
      signal?.throwIfAborted();
      return await cniAdd(network, { ...ctx, signal });
    } catch (err) {
      await cniDel(network, ctx).catch(() => undefined);
      throw err;
    }
  }

  /**
   * DEL with the same configuration ADD used, even if the directory changed since. `result` is
   * absent when cribd died between ADD and recording it; DEL then runs without a prevResult. It
   * takes no request signal: a cancelled StopPodSandbox means "kill at once" (no grace), not "leave
   * the pod's address and rules half released", and a rollback must run to the end.
   */
  async detach(a: Omit<NetworkAttachment, 'result' | 'ips'> & { result?: Record<string, unknown> }, pod: PodNetworkIdentity): Promise<void> {
    const ctx: CniContext = { binDirs: this.o.binDirs, netnsPath: a.netnsPath, ifName: a.ifName, pod, portMappings: a.portMappings };
    await cniDel(a.network, ctx, a.result);
  }
}
