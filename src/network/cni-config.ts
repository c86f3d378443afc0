import fs from 'node:fs/promises';
import path from 'node:path';
import type { NetworkConfigList, PluginConfig } from './types.js';

export interface BuiltinNetwork {
  name: string;
  bridge: string;
  /** One CIDR, or an IPv4 and an IPv6 one joined by a comma (as kubelet's pod CIDR comes). */
  subnet: string;
  ipMasq: boolean;
  /** host-local IPAM lease directory. */
  ipamDataDir: string;
}

/** crib's default network: a bridge with host-local IPAM (a range and a default route per family) and port mappings. */
export function builtinNetwork(n: BuiltinNetwork): NetworkConfigList {
  const subnets = n.subnet.split(',').map((s) => s.trim());
  return {
    cniVersion: '1.0.0',
    name: n.name,
    source: 'builtin',
    plugins: [
      {
        type: 'bridge',
        bridge: n.bridge,
        isGateway: true,
        ipMasq: n.ipMasq,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: subnets.map((subnet) => [{ subnet }]),
          routes: subnets.map((subnet) => ({ dst: subnet.includes(':') ? '::/0' : '0.0.0.0/0' })),
          dataDir: n.ipamDataDir,
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
}

/** Parses a .conflist, or a single-plugin .conf/.json turned into a list of one. Throws when malformed. */
export function parseNetworkConfig(text: string, source: string): NetworkConfigList {
  const doc = JSON.parse(text) as Record<string, unknown>;
  if (typeof doc !== 'object' || doc === null) throw new Error('not a JSON object');
  const name = doc['name'];
  if (typeof name !== 'string' || !name) throw new Error('missing "name"');
  const cniVersion = typeof doc['cniVersion'] === 'string' ? doc['cniVersion'] : '0.4.0';
  let plugins: unknown;
  if (source.endsWith('.conflist')) {
    plugins = doc['plugins'];
    if (!Array.isArray(plugins) || plugins.length === 0) throw new Error('"plugins" must be a non-empty list');
  } else {
    const { name: _n, cniVersion: _v, ...plugin } = doc;
    plugins = [plugin];
  }
  for (const [i, p] of (plugins as unknown[]).entries()) {
    if (typeof p !== 'object' || p === null || typeof (p as PluginConfig).type !== 'string') {
      throw new Error(`plugins[${i}] has no "type"`);
    }
  }
  return { cniVersion, name, plugins: plugins as PluginConfig[], source };
}

export interface ConfigChoice {
  network?: NetworkConfigList;
  /** Files that were skipped and why. */
  problems: string[];
}

/** The first valid configuration in the directory (lexical order, as libcni does), if any. */
export async function firstNetworkConfig(dir: string): Promise<ConfigChoice> {
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((f) => /\.(conflist|conf|json)$/.test(f)).sort();
  } catch {
    return { problems: [] };
  }
  const problems: string[] = [];
  for (const f of names) {
    const file = path.join(dir, f);
    try {
      return { network: parseNetworkConfig(await fs.readFile(file, 'utf8'), file), problems };
    } catch (err) {
      problems.push(`${file}: ${(err as Error).message}`);
    }
  }
  return { problems };
}

const pluginCache = new Map<string, { path: string | undefined; at: number }>();
const PLUGIN_CACHE_MS = 5000;

/** Finds a plugin binary in the configured directories (looked up at most every few seconds). */
export async function findPlugin(type: string, binDirs: readonly string[]): Promise<string | undefined> {
  const key = `${binDirs.join(':')}/${type}`;
  const hit = pluginCache.get(key);
  if (hit && Date.now() - hit.at < PLUGIN_CACHE_MS) return hit.path;
  let found: string | undefined;
  for (const dir of binDirs) {
    const p = path.join(dir, type);
    try {
      await fs.access(p, fs.constants.X_OK);
      found = p;
      break;
    } catch {
      /* try the next directory */
    }
  }
  pluginCache.set(key, { path: found, at: Date.now() });
  return found;
}
