// What a pod uses, read once for both ways the CRI reports it: PodSandboxStats (structured) and
// ListPodSandboxMetrics (cAdvisor-named metrics). Both convert the same PodUsage, so they agree.
import type { ContainerService } from '../container/service.js';
import { cgroupUsage, type CgroupUsage, type ContainerUsage } from '../container/stats.js';
import type { Container } from '../container/types.js';
import { netnsInterfaces, type InterfaceUsage } from '../network/net-dev.js';
import type { SandboxService } from '../sandbox/service.js';
import type { Sandbox, SandboxView } from '../sandbox/types.js';

export interface PodUsage {
  sandbox: Sandbox;
  /** The pod cgroup (pause and every container), when asked for. */
  cgroup?: CgroupUsage;
  /** The running containers and what each uses. */
  containers: { container: Container; usage: ContainerUsage }[];
  /** The pod network's interfaces; absent for pods on the node's network or once pause is gone. */
  network?: InterfaceUsage[];
}

export class PodUsageReader {
  constructor(
    private readonly sandboxes: Pick<SandboxService, 'get' | 'view' | 'list'>,
    private readonly containers: Pick<ContainerService, 'list' | 'stats'>,
  ) {}

  /** One sandbox's use, by id (PodSandboxStats); a stopped pod has no containers or network left. */
  async ofSandbox(id: string): Promise<PodUsage> {
    return this.read(await this.sandboxes.view(this.sandboxes.get(id)), { podCgroup: true });
  }

  /** Every READY sandbox's use, optionally narrowed as ListPodSandboxStats asks. */
  async ofReady(opts: { id?: string; labelSelector?: Record<string, string>; podCgroup: boolean }): Promise<PodUsage[]> {
    const views = await this.sandboxes.list({ id: opts.id, labelSelector: opts.labelSelector, state: 'READY' });
    return Promise.all(views.map((v) => this.read(v, opts)));
  }

  private async read(v: SandboxView, opts: { podCgroup: boolean }): Promise<PodUsage> {
    const sb = v.sandbox;
    const running = (await this.containers.list({ sandboxId: sb.id, state: 'RUNNING' })).map((c) => c.container);
    // /proc/PAUSE/net/dev is the pod netns's view: no spawn, no setns. Only while pause is the
    // process recorded (pauseAlive checks its start time), so a reused pid is never read.
    const pausePid = v.pauseAlive && sb.paths.netns ? sb.pause?.pid : undefined;
    const network = pausePid === undefined ? undefined : netnsInterfaces(pausePid);
    const [containers, cgroup] = await Promise.all([
      Promise.all(running.map(async (container) => ({ container, usage: await this.containers.stats(container) }))),
      opts.podCgroup ? cgroupUsage(sb.cgroup.parent) : undefined,
    ]);
    return { sandbox: sb, containers, ...(cgroup ? { cgroup } : {}), ...(network ? { network } : {}) };
  }
}
