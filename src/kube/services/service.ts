// A `kind: Service` read with the API server's rules (names, types, ports, node ports). crib has
// no service proxy: a Service's names resolve straight to its pods' IPs (names.ts), and a node
// port is a host port of a selected pod (node-ports.ts). What asks for a proxy, or for objects
// crib does not run, is a warning naming the field (an error with --strict). Pure.
import type { Fields } from '../manifest/fields.js';
import { ManifestError, readType } from '../manifest/fields.js';
import { parseMetadata, type Protocol } from '../manifest/pod-spec.js';

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';

export interface ServicePort {
  name?: string;
  protocol: Protocol;
  port: number;
  /** A port number, or the name of a port the selected pods' containers declare. */
  targetPort: number | string;
  nodePort?: number;
}

export interface Service {
  name: string;
  namespace: string;
  type: ServiceType;
  /** clusterIP: None: the pods' own names (`POD.SERVICE`) too, and no virtual IP was asked for. */
  headless: boolean;
  /** Unset: the Service takes its endpoints from objects crib does not run, and resolves to nothing. */
  selector?: Record<string, string>;
  ports: ServicePort[];
  /** Pods count whether they are ready or not (StatefulSets' peers often need to find each other first). */
  publishNotReadyAddresses: boolean;
}

/** The API server's default `--service-node-port-range`. */
export const NODE_PORT_RANGE = { min: 30000, max: 32767 } as const;

const DNS_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const PORT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A Service's name becomes DNS names: a DNS-1035 label (starts with a letter), as the API server requires. */
function serviceName(field: string, v: string): string {
  if (v.length > 63 || !DNS_1035.test(v)) {
    throw new ManifestError(
      field,
      `"${v.length > 80 ? `${v.slice(0, 80)}...` : v}" must be a DNS-1035 label: at most 63 lowercase letters, digits and '-', starting with a letter and ending with a letter or digit`,
    );
  }
  return v;
}

function targetPortOf(f: Fields, port: number): number | string {
  const v = f.intOrString('targetPort');
  if (v === undefined || v === 0) return port;
  if (typeof v === 'number') {
    if (v < 1 || v > 65535) throw new ManifestError(f.field('targetPort'), `${v} is out of range (1..65535)`);
    return v;
  }
  if (v.length > 15 || !PORT_NAME.test(v) || !/[a-z]/.test(v)) {
    throw new ManifestError(f.field('targetPort'), `"${v}" must be a port number or a port name (at most 15 lowercase letters, digits and '-', with a letter)`);
  }
  return v;
}

function parsePorts(s: Fields, type: ServiceType): ServicePort[] {
  const ports = s.list('ports', (item, path) => {
    const p = s.item(item, path);
    const port = p.int('port', 1, 65535);
    if (port === undefined) throw new ManifestError(p.field('port'), 'required');
    const out: ServicePort = { protocol: p.oneOf('protocol', ['TCP', 'UDP', 'SCTP'] as const, 'TCP'), port, targetPort: targetPortOf(p, port) };
    const name = p.str('name');
    if (name) {
      if (name.length > 63 || !PORT_NAME.test(name)) throw new ManifestError(p.field('name'), `"${name}" must be a DNS label`);
      out.name = name;
    }
    const nodePort = p.int('nodePort', 0, 65535);
    if (nodePort) {
      if (type !== 'NodePort' && type !== 'LoadBalancer') throw new ManifestError(p.field('nodePort'), `may not be used when type is ${type}`);
      if (nodePort < NODE_PORT_RANGE.min || nodePort > NODE_PORT_RANGE.max) {
        throw new ManifestError(p.field('nodePort'), `${nodePort} is not in the node port range ${NODE_PORT_RANGE.min}-${NODE_PORT_RANGE.max}`);
      }
      out.nodePort = nodePort;
    }
    p.accept('appProtocol');
    p.done();
    return out;
  });
  // The API server's rules: names required and unique once there are several; no port twice.
  const names = new Set<string>();
  const seen = new Set<string>();
  const nodePorts = new Set<string>();
  ports.forEach((p, i) => {
    const field = `${s.field('ports')}[${i}]`;
    if (ports.length > 1 && !p.name) throw new ManifestError(`${field}.name`, 'required when a Service has more than one port');
    if (p.name && names.has(p.name)) throw new ManifestError(`${field}.name`, `"${p.name}" is used twice`);
    if (p.name) names.add(p.name);
    const key = `${p.port}/${p.protocol}`;
    if (seen.has(key)) throw new ManifestError(`${field}.port`, `${key} is used twice`);
    seen.add(key);
    if (p.nodePort !== undefined) {
      const nk = `${p.nodePort}/${p.protocol}`;
      if (nodePorts.has(nk)) throw new ManifestError(`${field}.nodePort`, `${nk} is used twice`);
      nodePorts.add(nk);
    }
  });
  return ports;
}

/** A `kind: Service` object; its warnings (what crib cannot do) go to `warnings`, prefixed by field. */
export function parseService(f: Fields): Service {
  readType(f, 'Service', ['v1']);
  const meta = parseMetadata(f);
  serviceName(`${f.field('metadata')}.name`, meta.name);
  const svc = f.sub('spec', (s) => {
    const type = s.oneOf('type', ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const, 'ClusterIP');
    const clusterIP = s.str('clusterIP');
    const clusterIPs = s.strList('clusterIPs');
    const headless = clusterIP === 'None' || clusterIPs[0] === 'None';
    if (headless && (type === 'NodePort' || type === 'LoadBalancer')) throw new ManifestError(s.field('clusterIP'), `may not be None when type is ${type}`);
    if (clusterIP && clusterIP !== 'None')
      s.warn(`${s.field('clusterIP')}: crib run has no service proxy, so ${clusterIP} is not served; the Service's names resolve to its pods' IPs; ignored`);
    const ports = parsePorts(s, type);
    if (ports.length === 0 && !headless && type !== 'ExternalName')
      throw new ManifestError(s.field('ports'), 'required (at least one port, unless clusterIP is None)');
    const selector = s.has('selector') ? s.strMap('selector') : undefined;
    const out: Service = {
      name: meta.name,
      namespace: meta.namespace,
      type,
      headless,
      ports,
      publishNotReadyAddresses: s.bool('publishNotReadyAddresses') ?? false,
    };
    if (type === 'ExternalName') {
      s.str('externalName');
      s.warn(`${s.field('type')}: ExternalName (a DNS alias) is not supported by crib run; ignored`);
    } else if (selector && Object.keys(selector).length) {
      out.selector = selector;
    } else {
      s.warn(
        `${s.field('selector')}: a Service without a selector takes its endpoints from objects crib run does not run; its names resolve to nothing; ignored`,
      );
    }
    const affinity = s.oneOf('sessionAffinity', ['None', 'ClientIP'] as const, 'None');
    if (affinity === 'ClientIP') s.warn(`${s.field('sessionAffinity')}: ClientIP needs a service proxy, which crib run does not have; ignored`);
    // One node: Local and Cluster are the same node; the IP families follow the pods'.
    s.accept('externalTrafficPolicy', 'internalTrafficPolicy', 'ipFamilies', 'ipFamilyPolicy', 'allocateLoadBalancerNodePorts', 'loadBalancerClass');
    return out;
  });
  if (!svc) throw new ManifestError(f.field('spec'), 'required');
  f.accept('status');
  f.done();
  return svc;
}
