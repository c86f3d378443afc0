// What cribd says at start about the pod network it will use: which one, from where, and a warning
// when settings it was given for its own bridge (--bridge, --subnet, --network-name, --ip-masq or the
// config file's network) have no effect because a CNI config in --cni-conf-dir comes first.
import type { BuiltinNetwork } from './cni-config.js';
import type { NetworkStatus } from './manager.js';

export interface NetworkNotice {
  info: { message: string; fields: Record<string, unknown> };
  warn?: { message: string; fields: Record<string, unknown> };
}

type BuiltinSettings = Pick<BuiltinNetwork, 'name' | 'bridge' | 'subnet' | 'ipMasq'>;

/** The start-up lines for a network status, given the built-in network's settings and their defaults. Pure. */
export function networkNotice(status: NetworkStatus, confDir: string, builtin: BuiltinSettings | undefined, defaults: BuiltinSettings): NetworkNotice {
  const n = status.network;
  const fields: Record<string, unknown> = n
    ? { network: n.name, source: n.source, ...(n.source === 'builtin' && builtin ? { bridge: builtin.bridge, subnet: builtin.subnet } : {}) }
    : { confDir };
  if (!status.ready) fields['notReady'] = status.message;
  const info = { message: n ? `pod network ${n.name} from ${n.source === 'builtin' ? "crib's built-in bridge" : n.source}` : 'no pod network yet', fields };
  if (!n || n.source === 'builtin' || !builtin) return { info };
  const changed = (['name', 'bridge', 'subnet', 'ipMasq'] as const).filter((k) => builtin[k] !== defaults[k]);
  if (!changed.length) return { info };
  const flag = { name: '--network-name', bridge: '--bridge', subnet: '--subnet', ipMasq: '--ip-masq' } as const;
  return {
    info,
    warn: {
      message: `${changed.map((k) => flag[k]).join(', ')} ignored: the CNI config ${n.source} in ${confDir} comes before crib's built-in bridge (remove it, or give --cni-conf-dir a directory without it)`,
      fields: Object.fromEntries(changed.map((k) => [k, builtin[k]])),
    },
  };
}
