import { builtinNetwork, findPlugin, firstNetworkConfig, loopbackNetwork } from './cni-config.js';
import { cniAdd, cniDel, type CniContext } from './cni.js';
import type { NetworkAttachment, NetworkConfigList, PodNetworkIdentity, PortMapping } from './types.js';
import type { BuiltinNetwork } from './cni-config.js';

export interface NetworkStatus {
  ready: boolean;
  reason: string;
  message: string;
  network?: NetworkConfigList;
}

/** Chooses the pod network (first CNI config in the directory, else crib's bridge) and attaches pods to it. */
export class NetworkManager {
  constructor(
    private readonly confDir: string,
    private readonly binDirs: readonly string[],
    private readonly builtin: BuiltinNetwork,
  ) {}

  async status(): Promise<NetworkStatus> {
    const choice = await firstNetworkConfig(this.confDir);
    const network = choice.network ?? builtinNetwork(this.builtin);
    const types = new Set<string>(['loopback', ...network.plugins.map((p) => p.type)]);
    for (const p of network.plugins) {
      const ipam = p['ipam'] as { type?: unknown } | undefined;
      if (ipam && typeof ipam.type === 'string') types.add(ipam.type);
    }
    const missing: string[] = [];
    for (const t of types) if (!(await findPlugin(t, this.binDirs))) missing.push(t);
    if (missing.length) {
      return {
        ready: false,
        reason: 'NetworkPluginNotReady',
        message:
          `network ${network.name} (${network.source}): CNI plugin(s) ${missing.join(', ')} not found in ${this.binDirs.join(':')}` +
          (choice.problems.length ? `; skipped configs: ${choice.problems.join('; ')}` : ''),
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

  /** ADD: loopback and the pod network run side by side; a failed chain is DELeted before the error is returned. */
  async attach(network: NetworkConfigList, pod: PodNetworkIdentity, netnsPath: string, portMappings: PortMapping[]): Promise<NetworkAttachment> {
    const ctx: CniContext = { binDirs: this.binDirs, netnsPath, ifName: 'eth0', pod, portMappings };
    const [lo, main] = await Promise.allSettled([cniAdd(loopbackNetwork, { ...ctx, ifName: 'lo', portMappings: [] }), cniAdd(network, ctx)]);
    if (main.status === 'rejected') {
      await cniDel(network, ctx).catch(() => undefined);
      throw main.reason;
    }
    if (lo.status === 'rejected') {
      await this.detach(main.value, pod).catch(() => undefined);
      throw lo.reason;
    }
    return main.value;
  }

  /**
   * DEL with the same configuration ADD used, even if the directory changed since. `result` is
   * absent when cribd died between ADD and recording it; DEL then runs without a prevResult.
   */
  async detach(a: Omit<NetworkAttachment, 'result' | 'ips'> & { result?: Record<string, unknown> }, pod: PodNetworkIdentity): Promise<void> {
    const ctx: CniContext = { binDirs: this.binDirs, netnsPath: a.netnsPath, ifName: a.ifName, pod, portMappings: a.portMappings };
    await cniDel(a.network, ctx, a.result);
  }
}
