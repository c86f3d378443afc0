import { run } from '../util/exec.js';
import { findPlugin } from './cni-config.js';
import type { NetworkAttachment, NetworkConfigList, PodIP, PodNetworkIdentity, PortMapping, PluginConfig } from './types.js';

export interface CniContext {
  binDirs: readonly string[];
  netnsPath: string;
  ifName: string;
  pod: PodNetworkIdentity;
  portMappings: PortMapping[];
  /** The request's: a cancelled one kills the plugin that runs. */
  signal?: AbortSignal;
}

type Command = 'ADD' | 'DEL';

function cniArgs(pod: PodNetworkIdentity): string {
  return [
    'IgnoreUnknown=1',
    `K8S_POD_NAMESPACE=${pod.namespace}`,
    `K8S_POD_NAME=${pod.name}`,
    `K8S_POD_INFRA_CONTAINER_ID=${pod.sandboxId}`,
    `K8S_POD_UID=${pod.uid}`,
  ].join(';');
}

/** The config one plugin of a list receives: the list's name and version, runtimeConfig, prevResult. */
export function pluginInput(
  list: NetworkConfigList,
  plugin: PluginConfig,
  portMappings: PortMapping[],
  prevResult: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const input: Record<string, unknown> = { ...plugin, cniVersion: list.cniVersion, name: list.name };
  // A port without a host port is informational only (kubelet sends those too): nothing to map.
  const mapped = portMappings.filter((p) => p.hostPort > 0);
  if (plugin.capabilities?.['portMappings'] && mapped.length > 0) {
    input['runtimeConfig'] = { portMappings: mapped };
  }
  if (prevResult) input['prevResult'] = prevResult;
  return input;
}

async function invoke(
  command: Command,
  list: NetworkConfigList,
  plugin: PluginConfig,
  ctx: CniContext,
  prevResult: Record<string, unknown> | undefined,
): Promise<Record<string, unknown> | undefined> {
  const bin = await findPlugin(plugin.type, ctx.binDirs);
  if (!bin) throw new Error(`CNI plugin "${plugin.type}" not found in ${ctx.binDirs.join(':')}`);
  const { stdout } = await run(bin, [], {
    stdin: JSON.stringify(pluginInput(list, plugin, ctx.portMappings, prevResult)),
    env: {
      CNI_COMMAND: command,
      CNI_CONTAINERID: ctx.pod.sandboxId,
      CNI_NETNS: ctx.netnsPath,
      CNI_IFNAME: ctx.ifName,
      CNI_PATH: ctx.binDirs.join(':'),
      CNI_ARGS: cniArgs(ctx.pod),
    },
    timeoutMs: 60_000,
    signal: ctx.signal,
  });
  if (command === 'DEL' || !stdout.trim()) return undefined;
  return JSON.parse(stdout) as Record<string, unknown>;
}

/**
 * portmap without a port to map does nothing: ADD passes the previous result on, DEL returns at
 * once (containernetworking/plugins, meta/portmap). Not running it saves a process per call.
 */
export function isNoop(plugin: PluginConfig, portMappings: PortMapping[]): boolean {
  return plugin.type === 'portmap' && !portMappings.some((p) => p.hostPort > 0);
}

/** Runs ADD through every plugin of the list in order, each given the previous result. */
export async function cniAdd(list: NetworkConfigList, ctx: CniContext): Promise<NetworkAttachment> {
  let result: Record<string, unknown> | undefined;
  for (const plugin of list.plugins) {
    if (isNoop(plugin, ctx.portMappings)) continue;
    result = (await invoke('ADD', list, plugin, ctx, result)) ?? result;
  }
  const final = result ?? {};
  return {
    netnsPath: ctx.netnsPath,
    ifName: ctx.ifName,
    network: list,
    portMappings: ctx.portMappings,
    result: final,
    ips: podIPs(final),
  };
}

/** Runs DEL through the plugins in reverse order; every plugin runs even if an earlier one failed. */
export async function cniDel(list: NetworkConfigList, ctx: CniContext, prevResult?: Record<string, unknown>): Promise<void> {
  const errors: string[] = [];
  for (const plugin of [...list.plugins].reverse()) {
    if (isNoop(plugin, ctx.portMappings)) continue;
    try {
      await invoke('DEL', list, plugin, ctx, prevResult);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  if (errors.length) throw new Error(`CNI DEL of network ${list.name}: ${errors.join('; ')}`);
}

/** The pod's addresses from a CNI result (any version from 0.3 on: ips[].address is CIDR). */
export function podIPs(result: Record<string, unknown>): PodIP[] {
  const ips = Array.isArray(result['ips']) ? (result['ips'] as Record<string, unknown>[]) : [];
  const out: PodIP[] = [];
  for (const entry of ips) {
    const address = entry['address'];
    if (typeof address !== 'string') continue;
    const ip = address.split('/')[0] ?? address;
    out.push({
      address,
      ip,
      gateway: typeof entry['gateway'] === 'string' ? entry['gateway'] : undefined,
      family: ip.includes(':') ? 6 : 4,
    });
  }
  // IPv4 first, as kubelet takes the first as the pod's primary IP.
  return out.sort((a, b) => a.family - b.family);
}
