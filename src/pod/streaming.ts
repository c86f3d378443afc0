// What the streaming server runs once a client has connected: execs and attaches in containers, and
// connections to pod ports. The server (src/streaming) speaks the protocols; this only looks up the
// container or sandbox and hands the client's streams to the runtime boundary.
import type { ContainerService } from '../container/service.js';
import { openPodPort } from '../network/port-forward.js';
import type { SandboxService } from '../sandbox/service.js';
import type { AttachRequest, ExecRequest, ProcessStreams, StreamingRuntime } from '../streaming/types.js';

export class PodStreams implements StreamingRuntime {
  constructor(
    private readonly sandboxes: Pick<SandboxService, 'portForwardTarget'>,
    private readonly containers: Pick<ContainerService, 'execStream' | 'attach'>,
  ) {}

  exec(req: ExecRequest, io: ProcessStreams): Promise<{ exitCode: number }> {
    return this.containers.execStream(req.containerId, req.cmd, req.tty, io);
  }

  attach(req: AttachRequest, io: ProcessStreams): Promise<void> {
    return this.containers.attach(req.containerId, io);
  }

  async portForward(podSandboxId: string, port: number, signal: AbortSignal) {
    const { netnsPath } = await this.sandboxes.portForwardTarget(podSandboxId);
    return openPodPort(netnsPath, port, signal);
  }
}
