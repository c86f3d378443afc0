// Which names the Services of a run give which pod IPs, as hosts-file lines: `NAME`, `NAME.NAMESPACE`
// and `NAME.NAMESPACE.svc.cluster.local` for each pod a Service selects (ready, unless the Service
// publishes not-ready addresses), and for a headless Service also `HOSTNAME.NAME` (and the longer
// forms) for a pod whose hostname and subdomain name it (a StatefulSet's pods, with its
// serviceName). Pure.
import type { Service } from './service.js';

export const CLUSTER_DOMAIN = 'cluster.local';

/**
 * The endpoints controller's cap: a Service's Endpoints hold at most 1000 addresses (the rest are
 * truncated, `endpoints.kubernetes.io/over-capacity`); it bounds every hosts file crib run writes.
 */
export const MAX_ENDPOINTS = 1000;

/**
 * musl reads /etc/hosts with fgets into 512 bytes: a longer line is read as two, and the second
 * half is no hosts line. Names of one address are packed into lines within it.
 */
export const MAX_LINE = 511;

/** A pod of the run as the Services see it. */
export interface PodEndpoint {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  /** The pod's hostname (a StatefulSet's pods: their names). */
  hostname?: string;
  /** The headless Service its hostname is published under (a StatefulSet's serviceName). */
  subdomain?: string;
  ip: string;
  ready: boolean;
}

const selects = (s: Service, p: PodEndpoint): boolean =>
  s.selector !== undefined && s.namespace === p.namespace && Object.entries(s.selector).every(([k, v]) => p.labels[k] === v);

/** The pods a Service resolves to, by name, at most MAX_ENDPOINTS of them (the endpoints controller's order: ready first). */
export function endpointsOf(s: Service, pods: Iterable<PodEndpoint>): PodEndpoint[] {
  const chosen: PodEndpoint[] = [];
  for (const p of pods) if (p.ip && selects(s, p) && (p.ready || s.publishNotReadyAddresses)) chosen.push(p);
  chosen.sort((a, b) => Number(b.ready) - Number(a.ready) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return chosen.slice(0, MAX_ENDPOINTS);
}

/** A name's three forms: `NAME`, `NAME.NAMESPACE`, `NAME.NAMESPACE.svc.cluster.local`. */
export const nameForms = (name: string, namespace: string): string[] => [name, `${name}.${namespace}`, `${name}.${namespace}.svc.${CLUSTER_DOMAIN}`];

/** `IP<TAB>name name ...`, in as many lines as MAX_LINE takes (a name alone always fits: at most 253 bytes). */
export function hostsLines(ip: string, names: readonly string[]): string[] {
  const out: string[] = [];
  let line = '';
  for (const n of names) {
    if (line && line.length + 1 + n.length > MAX_LINE) {
      out.push(line);
      line = '';
    }
    line = line ? `${line} ${n}` : `${ip}\t${n}`;
  }
  if (line) out.push(line);
  return out;
}

/** Every line the Services give, for every pod of the run (the same in each pod's file). */
export function serviceHostLines(services: readonly Service[], pods: readonly PodEndpoint[]): Set<string> {
  const out = new Set<string>();
  for (const s of services) {
    for (const p of endpointsOf(s, pods)) {
      const names = nameForms(s.name, s.namespace);
      // A headless Service publishes its pods' own names: HOSTNAME.SERVICE (kube-dns's pod records).
      if (s.headless && p.hostname && p.subdomain === s.name) names.push(...nameForms(`${p.hostname}.${s.name}`, s.namespace));
      for (const l of hostsLines(p.ip, names)) out.add(l);
    }
  }
  return out;
}
