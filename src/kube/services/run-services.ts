// The Services of one crib run, told about its pods by the pods' runs: a pod with its IP gets its
// hosts file (to mount as /etc/hosts) and adds its names, readiness moves it in and out of them,
// its end takes it out. A StatefulSet's pods have its serviceName as their subdomain.
import { podHostname } from '../pod/convert.js';
import type { Pod } from '../manifest/pod-spec.js';
import type { Workload } from '../manifest/workload.js';
import type { PodHooks } from '../pod/hooks.js';
import { podDir } from '../records/paths.js';
import { ServiceNames } from './service-names.js';
import type { Service } from './service.js';

export class RunServices {
  private readonly names: ServiceNames;
  /** `NAMESPACE/STATEFULSET` -> its serviceName. */
  private readonly subdomains = new Map<string, string>();

  constructor(services: readonly Service[], workloads: readonly Workload[], onError: (err: unknown) => void) {
    this.names = new ServiceNames(services, onError);
    for (const w of workloads) if (w.statefulSet?.serviceName) this.subdomains.set(`${w.namespace}/${w.name}`, w.statefulSet.serviceName);
  }

  /**
   * The pod has its IP (its containers are not made yet). With `dir` (a pod with its own network),
   * returns the hosts file made there for its containers' /etc/hosts.
   */
  podStarted(uid: string, pod: Pod, ip: string, dir: string | undefined): Promise<string | undefined> {
    const subdomain = pod.owner.kind === 'StatefulSet' ? this.subdomains.get(`${pod.namespace}/${pod.owner.name}`) : undefined;
    return this.names.addPod(uid, {
      name: pod.name,
      namespace: pod.namespace,
      labels: pod.labels,
      hostname: podHostname(pod),
      ...(subdomain ? { subdomain } : {}),
      ip,
      ready: false,
      ...(dir ? { dir } : {}),
      ...(pod.spec.hostAliases ? { hostAliases: pod.spec.hostAliases } : {}),
    });
  }

  podReady(uid: string, ready: boolean): void {
    this.names.setReady(uid, ready);
  }

  podGone(uid: string): Promise<void> {
    return this.names.removePod(uid);
  }

  settled(): Promise<void> {
    return this.names.settled();
  }

  /** As the run's hooks: a pod with its own network gets its hosts file as every container's /etc/hosts. */
  hooks(root: string, onError: (err: unknown) => void): PodHooks {
    return {
      mounts: async (p) => {
        if (!p.ip) return [];
        const file = await this.podStarted(p.uid, p.pod, p.ip, p.pod.spec.hostNetwork ? undefined : podDir(root, p.uid));
        return file ? [{ container_path: '/etc/hosts', host_path: file, readonly: true }] : [];
      },
      readiness: (p, ready) => this.podReady(p.uid, ready),
      gone: (p) => void this.podGone(p.uid).catch(onError),
      settled: () => this.settled(),
    };
  }
}
