import { nowNanos } from '../util/time.js';
import type { CribConfig } from '../config.js';
import type { NetworkManager } from '../network/manager.js';
import type { PodService } from '../pod/service.js';
import type { PodUsageReader } from '../pod/usage.js';
import type { SandboxService } from '../sandbox/service.js';
import type { ContainerService } from '../container/service.js';
import { toContainerConfig, toContainerFilter, toContainerResources, toContainerStatus } from './container-convert.js';
import { containerStatusReply, listContainersReply, listPodSandboxReply, podSandboxStatusReply } from './encoded-replies.js';
import { toContainerStats, toPodSandboxStats } from './stats-convert.js';
import { metricDescriptors, metricsTimeAt, toPodSandboxMetrics } from './metrics-convert.js';
import { cribVersion } from '../version.js';
import { CgroupDriver } from './generated/runtime/v1/CgroupDriver.js';
import type { RuntimeServiceHandlers } from './generated/runtime/v1/RuntimeService.js';
import { toPodSandboxStatus, toSandboxConfig, toSandboxFilter } from './sandbox-convert.js';
import { unary } from './unary.js';
import type { StreamingUrls } from '../streaming/on-demand.js';
import { invalidArgument } from '../util/errors.js';
import type { EventBus } from '../events/bus.js';
import type { LifecycleEvent } from '../pod/events.js';
import { toContainerEvent } from './events-convert.js';
import { serverStream } from './server-stream.js';
import { validateResources } from '../container/validate.js';
import { podLimits } from '../host/cgroup-limits.js';
import { runtimeFeatures, toRuntimeHandlers } from './runtime-features.js';
import type { HandlerFeatures } from '../oci/features.js';

export interface RuntimeServiceDeps {
  config: CribConfig;
  sandboxes: SandboxService;
  containers: ContainerService;
  pods: PodService;
  /** What pods use, for the stats and metrics calls. */
  usage: PodUsageReader;
  network: NetworkManager;
  /** The runtime handlers crib offers, by name, with what each can do; and the default's name. */
  runtimeHandlers: () => Promise<{ name: string; features: HandlerFeatures }[]>;
  defaultRuntimeHandler: string;
  /** Whether pods may have their own user namespace on this node (asked once, then remembered). */
  userNamespaces: () => Promise<boolean>;
  /** The pods' lifecycle events, for GetContainerEvents. */
  events: EventBus<LifecycleEvent>;
  /** Where Exec, Attach and PortForward send their clients. */
  streaming: StreamingUrls;
}

/**
 * runtime.v1.RuntimeService. Methods not listed here are answered UNIMPLEMENTED by grpc-js,
 * never with a fake success.
 */
export function runtimeServiceHandlers(d: RuntimeServiceDeps): Partial<RuntimeServiceHandlers> {
  const handlers: Partial<RuntimeServiceHandlers> = {
    Version: unary('Version', async () => ({
      // The kubelet runtime API version, which containerd and CRI-O also report as 0.1.0.
      version: '0.1.0',
      runtime_name: 'crib',
      runtime_version: cribVersion,
      runtime_api_version: 'v1',
    })),

    Status: unary('Status', async (req) => {
      const net = await d.network.status();
      const info: Record<string, string> = {};
      if (req.verbose) {
        info['config'] = JSON.stringify(d.config);
        info['cniconfig'] = JSON.stringify(net.network ?? null);
        info['lastCNILoadStatus'] = net.ready ? 'OK' : net.message;
      }
      const userns = await d.userNamespaces();
      return {
        status: {
          conditions: [
            { type: 'RuntimeReady', status: true, reason: '', message: '' },
            { type: 'NetworkReady', status: net.ready, reason: net.reason, message: net.ready ? '' : net.message },
          ],
        },
        info,
        runtime_handlers: toRuntimeHandlers(await d.runtimeHandlers(), d.defaultRuntimeHandler, userns),
        features: runtimeFeatures,
      };
    }),

    RuntimeConfig: unary('RuntimeConfig', async () => ({ linux: { cgroup_driver: CgroupDriver.CGROUPFS } })),

    // kubelet sends the node's pod CIDR; crib's built-in network hands out addresses from it.
    UpdateRuntimeConfig: unary('UpdateRuntimeConfig', async (req) => {
      await d.network.setPodCidr(req.runtime_config?.network_config?.pod_cidr ?? '', 'runtime_config.network_config.pod_cidr');
      return {};
    }),

    RunPodSandbox: unary('RunPodSandbox', async (req, ctx) => ({
      pod_sandbox_id: await d.sandboxes.run(ctx, toSandboxConfig(req.config, req.runtime_handler)),
    })),

    StopPodSandbox: unary('StopPodSandbox', async (req, ctx) => {
      await d.pods.stop(ctx, req.pod_sandbox_id);
      return {};
    }),

    RemovePodSandbox: unary('RemovePodSandbox', async (req, ctx) => {
      await d.pods.remove(ctx, req.pod_sandbox_id);
      return {};
    }),

    // kubelet's relist asks these four for every pod each second: their replies come from bytes
    // kept per pod and container (src/cri/encoded-replies.ts).
    PodSandboxStatus: unary('PodSandboxStatus', async (req) => {
      const view = await d.sandboxes.status(req.pod_sandbox_id);
      if (!req.verbose) return podSandboxStatusReply(view, nowNanos());
      const info = { info: JSON.stringify(await d.sandboxes.verboseInfo(view)) };
      return { status: toPodSandboxStatus(view), info, containers_statuses: [], timestamp: nowNanos() };
    }),

    ListPodSandbox: unary('ListPodSandbox', async (req) => listPodSandboxReply(await d.sandboxes.list(toSandboxFilter(req.filter)))),

    CreateContainer: unary('CreateContainer', async (req, ctx) => ({
      container_id: await d.containers.create(ctx, req.pod_sandbox_id, toContainerConfig(req.config)),
    })),

    StartContainer: unary('StartContainer', async (req, ctx) => {
      await d.containers.start(ctx, req.container_id);
      return {};
    }),

    StopContainer: unary('StopContainer', async (req, ctx) => {
      await d.containers.stop(ctx, req.container_id, Number(req.timeout));
      return {};
    }),

    RemoveContainer: unary('RemoveContainer', async (req, ctx) => {
      await d.containers.remove(ctx, req.container_id);
      return {};
    }),

    ContainerStatus: unary('ContainerStatus', async (req) => {
      const view = await d.containers.status(req.container_id);
      if (!req.verbose) return containerStatusReply(view);
      return { status: toContainerStatus(view), info: { info: JSON.stringify(await d.containers.verboseInfo(view)) } };
    }),

    ListContainers: unary('ListContainers', async (req) => listContainersReply(await d.containers.list(toContainerFilter(req.filter)))),

    ExecSync: unary('ExecSync', async (req, ctx) => {
      const r = await d.containers.execSync(ctx, req.container_id, req.cmd, Number(req.timeout));
      return { stdout: r.stdout, stderr: r.stderr, exit_code: r.exitCode };
    }),

    // The streaming calls hand out a single-use URL on the streaming server once the request is
    // known to be good; the client's streams then reach the runtime through it (src/pod/streaming.ts).
    Exec: unary('Exec', async (req) => {
      if (req.cmd.length === 0 || !req.cmd[0]) throw invalidArgument('cmd', 'required');
      await d.containers.checkStreamable(req.container_id, { kind: 'exec', stdin: req.stdin, tty: req.tty });
      const { container_id: containerId, cmd, tty, stdin, stdout, stderr } = req;
      return { url: await d.streaming.getExec({ containerId, cmd, tty, stdin, stdout, stderr }) };
    }),

    Attach: unary('Attach', async (req) => {
      await d.containers.checkStreamable(req.container_id, { kind: 'attach', stdin: req.stdin, tty: req.tty });
      const { container_id: containerId, tty, stdin, stdout, stderr } = req;
      return { url: await d.streaming.getAttach({ containerId, tty, stdin, stdout, stderr }) };
    }),

    PortForward: unary('PortForward', async (req) => {
      await d.sandboxes.portForwardTarget(req.pod_sandbox_id);
      return { url: await d.streaming.getPortForward({ podSandboxId: req.pod_sandbox_id, ports: req.port }) };
    }),

    // kubelet's evented PLEG: every container's and sandbox's lifecycle, as it happens, until the
    // client goes away (or falls too far behind, and is dropped rather than buffered without end).
    GetContainerEvents: serverStream('GetContainerEvents', async (_req, send, ctx) => {
      const sub = d.events.subscribe();
      ctx.signal.addEventListener('abort', () => sub.close(), { once: true });
      for await (const e of sub) await send(toContainerEvent(e));
    }),

    UpdateContainerResources: unary('UpdateContainerResources', async (req) => {
      await d.containers.updateResources(req.container_id, toContainerResources(req.linux, 'linux'));
      return {};
    }),

    // kubelet 1.33's in-place pod resize, after it resized the pod cgroup itself: crib sets the same limits.
    UpdatePodSandboxResources: unary('UpdatePodSandboxResources', async (req) => {
      const resources = toContainerResources(req.resources, 'resources');
      const overhead = toContainerResources(req.overhead, 'overhead');
      validateResources('resources', resources);
      validateResources('overhead', overhead);
      await d.sandboxes.updateLimits(req.pod_sandbox_id, podLimits(resources, overhead));
      return {};
    }),

    ReopenContainerLog: unary('ReopenContainerLog', async (req) => {
      await d.containers.reopenLog(req.container_id);
      return {};
    }),

    ContainerStats: unary('ContainerStats', async (req) => {
      const c = d.containers.get(req.container_id);
      return { stats: toContainerStats(c, await d.containers.stats(c)) };
    }),

    ListContainerStats: unary('ListContainerStats', async (req) => {
      const f = req.filter;
      const views = await d.containers.list({
        id: f?.id || undefined,
        sandboxId: f?.pod_sandbox_id || undefined,
        labelSelector: f?.label_selector,
        state: 'RUNNING',
      });
      return { stats: await Promise.all(views.map(async (v) => toContainerStats(v.container, await d.containers.stats(v.container)))) };
    }),

    PodSandboxStats: unary('PodSandboxStats', async (req) => ({
      stats: toPodSandboxStats(await d.usage.ofSandbox(req.pod_sandbox_id)),
    })),

    ListPodSandboxStats: unary('ListPodSandboxStats', async (req) => {
      const f = req.filter;
      const pods = await d.usage.ofReady({ id: f?.id || undefined, labelSelector: f?.label_selector, podCgroup: true });
      return { stats: pods.map((u) => toPodSandboxStats(u)) };
    }),

    // kubelet's /metrics/cadvisor when it takes pod and container stats from the CRI.
    ListMetricDescriptors: unary('ListMetricDescriptors', async () => ({ descriptors: metricDescriptors() })),

    ListPodSandboxMetrics: unary('ListPodSandboxMetrics', async () => {
      const pods = await d.usage.ofReady({ podCgroup: false });
      const time = metricsTimeAt(nowNanos());
      return { pod_metrics: pods.map((u) => toPodSandboxMetrics(u, time)) };
    }),
  };

  return handlers;
}
