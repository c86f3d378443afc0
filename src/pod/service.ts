// StopPodSandbox and RemovePodSandbox above the sandbox and container services: the order of a pod's
// end is decided here, once. The containers go first, while the network still serves their
// shutdown work; then pause, the pod's last process; then, with no process of the pod left, what
// the pod held of the node, side by side: the runtime's state of pause and of the containers (and
// the containers' rootfs mounts), and the network.
import type { ContainerService } from '../container/service.js';
import type { SandboxService } from '../sandbox/service.js';
import type { RequestContext } from '../util/context.js';
import { settleAll } from '../util/settle.js';
import { StepTimes } from '../util/steps.js';
import { validateId } from '../util/validate.js';

/** What the pod's end needs of the two services (a seam: tests drive it with stand-ins). */
export type PodSandboxes = Pick<
  SandboxService,
  'find' | 'exists' | 'locked' | 'killPause' | 'deletePause' | 'releaseNetwork' | 'markStopped' | 'remove' | 'imageUser'
>;
export type PodContainers = Pick<ContainerService, 'stopAllIn' | 'releaseAllIn' | 'removeAllIn' | 'imageUser'>;

export class PodService {
  constructor(
    private readonly sandboxes: PodSandboxes,
    private readonly containers: PodContainers,
  ) {}

  /**
   * StopPodSandbox: containers (their grace periods side by side), pause, then pause's and the
   * containers' runtime state and the network side by side. Idempotent: an unknown id is success,
   * as the CRI says and containerd and CRI-O answer; a malformed one is not.
   */
  async stop(ctx: RequestContext, id: string): Promise<void> {
    validateId('pod_sandbox_id', id);
    const sb = this.sandboxes.find(id);
    if (!sb) return;
    // Stryker disable StringLiteral: the step labels only name fields of a debug timing line
    const steps = new StepTimes();
    await this.sandboxes.locked(sb, async () => {
      // Removed while this call waited for the lock: nothing left to stop.
      if (!this.sandboxes.exists(sb)) return;
      await this.containers.stopAllIn(ctx, sb.id);
      steps.mark('containers');
      if (sb.phase === 'stopped') return;
      const pauseGone = await this.sandboxes.killPause(sb);
      steps.mark('pause');
      // The delete ends a pause that outlived its SIGKILL; the network then waits for it.
      const pauseDeleted = steps.time('pauseDelete', this.sandboxes.deletePause(sb));
      await settleAll([
        pauseDeleted,
        steps.time('network', pauseGone ? this.sandboxes.releaseNetwork(sb) : pauseDeleted.then(() => this.sandboxes.releaseNetwork(sb))),
        steps.time('containerState', this.containers.releaseAllIn(sb.id)),
      ]);
      steps.mark('released');
      await this.sandboxes.markStopped(sb);
    });
    steps.done('StopPodSandbox steps');
    // Stryker restore StringLiteral
  }

  /**
   * RemovePodSandbox: the containers without grace periods (StopPodSandbox is where those are
   * honoured), then everything of the sandbox. An unknown id is success, as kubelet expects.
   */
  async remove(ctx: RequestContext, id: string): Promise<void> {
    validateId('pod_sandbox_id', id);
    const sb = this.sandboxes.find(id);
    if (!sb) return;
    await this.sandboxes.locked(sb, async () => {
      if (!this.sandboxes.exists(sb)) return;
      // Stryker disable StringLiteral: as in stop
      const steps = new StepTimes();
      await this.containers.removeAllIn(ctx, sb.id);
      steps.mark('containers');
      await this.sandboxes.remove(sb);
      steps.mark('sandbox');
      steps.done('RemovePodSandbox steps');
      // Stryker restore StringLiteral
    });
  }

  /** Which sandbox or container uses an image, so RemoveImage can refuse and say so. */
  imageUser(imageId: string): string | undefined {
    return this.sandboxes.imageUser(imageId) ?? this.containers.imageUser(imageId);
  }
}
