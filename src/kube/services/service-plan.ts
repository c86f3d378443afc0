// What the Services ask of the manifest's workloads, decided before anything runs: which
// workloads each selects (one that selects nothing is a warning), each port's target port (a
// name no selected container declares, or a port that differs from it, which needs a proxy, is a
// warning), and the node ports: a NodePort or LoadBalancer Service is published on the node as a
// host port (CRI port mapping) of the one pod it selects, as crib has no proxy to spread
// connections over several. Pure: workloads in, workloads with host ports and warnings out.
import type { ContainerPort, ContainerSpec, PodTemplate, Protocol } from '../manifest/pod-spec.js';
import type { Workload } from '../manifest/workload.js';
import { NODE_PORT_RANGE, type Service, type ServicePort } from './service.js';

export interface ServicePlan {
  /** The workloads, those a node port publishes through with the host port added to their template. */
  workloads: Workload[];
  /** One line each, as the manifest's (`Service default/web: spec.ports[0]...; ignored`). */
  warnings: string[];
  /** What the run says once: `Service default/web: node port 30080 -> Deployment web:8080`. */
  notes: string[];
}

const describeService = (s: Service): string => `Service ${s.namespace}/${s.name}`;
const describeWorkload = (w: Workload): string => `${w.kind} ${w.name}`;

export function selectsWorkload(s: Service, w: Workload): boolean {
  return s.selector !== undefined && s.namespace === w.namespace && Object.entries(s.selector).every(([k, v]) => w.template.labels[k] === v);
}

/** The container port a Service port targets in one pod template (a name resolves against its containers' ports). */
function targetIn(t: PodTemplate, p: ServicePort): { container: number; port: ContainerPort | undefined; number: number } | undefined {
  for (const [ci, c] of t.spec.containers.entries()) {
    const port = c.ports.find(
      (x) => (typeof p.targetPort === 'number' ? x.containerPort === p.targetPort : x.name === p.targetPort) && x.protocol === p.protocol,
    );
    if (port) return { container: ci, port, number: port.containerPort };
  }
  // A number no container declares still reaches a process listening on it, as in Kubernetes.
  return typeof p.targetPort === 'number' ? { container: 0, port: undefined, number: p.targetPort } : undefined;
}

/** The template with `hostPort` on the target port (a port entry added to the container if it declared none). */
function withHostPort(
  t: PodTemplate,
  target: { container: number; port: ContainerPort | undefined; number: number },
  hostPort: number,
  protocol: Protocol,
): PodTemplate {
  const containers = t.spec.containers.map((c, ci): ContainerSpec => {
    if (ci !== target.container) return c;
    const ports = target.port
      ? c.ports.map((x) => (x === target.port ? { ...x, hostPort } : x))
      : [...c.ports, { containerPort: target.number, protocol, hostPort }];
    return { ...c, ports };
  });
  return { ...t, spec: { ...t.spec, containers } };
}

export function planServices(services: readonly Service[], workloads: readonly Workload[]): ServicePlan {
  const out: ServicePlan = { workloads: [...workloads], warnings: [], notes: [] };
  const taken = new Set<string>();
  for (const s of services) for (const p of s.ports) if (p.nodePort) taken.add(`${p.nodePort}/${p.protocol}`);
  for (const w of workloads) for (const c of w.template.spec.containers) for (const p of c.ports) if (p.hostPort) taken.add(`${p.hostPort}/${p.protocol}`);
  for (const s of services) {
    if (!s.selector) continue;
    const what = describeService(s);
    const selected = out.workloads.map((w, i) => [w, i] as const).filter(([w]) => selectsWorkload(s, w));
    if (selected.length === 0) {
      out.warnings.push(`${what}: spec.selector selects no pod of the manifest, so its names resolve to nothing; ignored`);
      continue;
    }
    for (const [pi, p] of s.ports.entries()) {
      const field = `spec.ports[${pi}]`;
      const targets = selected.map(([w, i]) => ({ w, i, t: targetIn(w.template, p) }));
      const missing = targets.filter((x) => !x.t);
      if (missing.length) {
        out.warnings.push(
          `${what}: ${field}.targetPort: no container of ${missing.map((x) => describeWorkload(x.w)).join(', ')} declares a ${p.protocol} port named "${String(p.targetPort)}"; ignored`,
        );
      }
      // Without a proxy a client reaches the pod's own port: one that differs from `port` is a broken promise.
      const differing = [...new Set(targets.flatMap((x) => (x.t && x.t.number !== p.port ? [x.t.number] : [])))];
      if (differing.length && !s.headless) {
        out.warnings.push(
          `${what}: ${field}.port ${p.port} differs from its target port ${differing.join(', ')}, and crib run has no service proxy: clients of ${s.name} must use ${differing.join(' or ')}; port ${p.port} ignored`,
        );
      }
      if (s.type !== 'NodePort' && s.type !== 'LoadBalancer') continue;
      const single = targets.filter((x) => x.t && x.w.replicas === 1 && x.w.kind !== 'Job');
      const through = single[0];
      if (!through?.t || single.length !== targets.length || targets.length > 1) {
        out.warnings.push(
          `${what}: ${field}: a node port reaches one pod without a service proxy, and it selects ${targets.map((x) => `${describeWorkload(x.w)} (${x.w.replicas} pod${x.w.replicas === 1 ? '' : 's'})`).join(', ')}${through?.t ? `: published through ${describeWorkload(through.w)} only` : ''}; ${through?.t ? 'the others ignored' : 'not published'}`,
        );
      }
      if (!through?.t) continue;
      // LoadBalancer without a node port: its own port on the node, as k3s's service load balancer publishes it.
      const hostPort = p.nodePort ?? (s.type === 'LoadBalancer' ? p.port : allocate(taken, p.protocol));
      if (hostPort === undefined) {
        out.warnings.push(`${what}: ${field}.nodePort: every port of ${NODE_PORT_RANGE.min}-${NODE_PORT_RANGE.max} is taken; not published`);
        continue;
      }
      taken.add(`${hostPort}/${p.protocol}`);
      out.workloads[through.i] = { ...through.w, template: withHostPort(through.w.template, through.t, hostPort, p.protocol) };
      out.notes.push(
        `${what}: ${s.type === 'LoadBalancer' && !p.nodePort ? 'port' : 'node port'} ${hostPort}/${p.protocol} -> ${describeWorkload(through.w)}:${through.t.number}`,
      );
    }
  }
  return out;
}

/** The API server hands out a free node port when none is given: the lowest free one here. */
function allocate(taken: Set<string>, protocol: Protocol): number | undefined {
  for (let n = NODE_PORT_RANGE.min; n <= NODE_PORT_RANGE.max; n++) if (!taken.has(`${n}/${protocol}`)) return n;
  return undefined;
}
