import type { CribConfig } from '../config.js';
import type { NetworkManager } from '../network/manager.js';
import type { OciRuntime } from '../oci/runtime.js';
import type { SandboxService } from '../sandbox/service.js';
import { cribVersion } from '../version.js';
import { CgroupDriver } from './generated/runtime/v1/CgroupDriver.js';
import type { RuntimeServiceHandlers } from './generated/runtime/v1/RuntimeService.js';
import { toPodSandbox, toPodSandboxStatus, toSandboxConfig, toSandboxFilter } from './sandbox-convert.js';
import { unary } from './unary.js';

export interface RuntimeServiceDeps {
  config: CribConfig;
  sandboxes: SandboxService;
  network: NetworkManager;
  runtimes: ReadonlyMap<string, OciRuntime>;
}

/**
 * runtime.v1.RuntimeService. Methods not listed here are answered UNIMPLEMENTED by grpc-js,
 * never with a fake success.
 */
export function runtimeServiceHandlers(d: RuntimeServiceDeps): Partial<RuntimeServiceHandlers> {
  return {
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
      return {
        status: {
          conditions: [
            { type: 'RuntimeReady', status: true, reason: '', message: '' },
            { type: 'NetworkReady', status: net.ready, reason: net.reason, message: net.ready ? '' : net.message },
          ],
        },
        info,
        runtime_handlers: [...d.runtimes.keys()].map((name) => ({
          name,
          features: { recursive_read_only_mounts: false, user_namespaces: false },
        })),
        features: { supplemental_groups_policy: false, user_namespaces_host_network: false },
      };
    }),

    RuntimeConfig: unary('RuntimeConfig', async () => ({ linux: { cgroup_driver: CgroupDriver.CGROUPFS } })),

    RunPodSandbox: unary('RunPodSandbox', async (req) => ({
      pod_sandbox_id: await d.sandboxes.run(toSandboxConfig(req.config, req.runtime_handler)),
    })),

    StopPodSandbox: unary('StopPodSandbox', async (req) => {
      await d.sandboxes.stop(req.pod_sandbox_id);
      return {};
    }),

    RemovePodSandbox: unary('RemovePodSandbox', async (req) => {
      await d.sandboxes.remove(req.pod_sandbox_id);
      return {};
    }),

    PodSandboxStatus: unary('PodSandboxStatus', async (req) => {
      const view = await d.sandboxes.status(req.pod_sandbox_id);
      const info: Record<string, string> = {};
      if (req.verbose) info['info'] = JSON.stringify(await d.sandboxes.verboseInfo(view));
      return { status: toPodSandboxStatus(view), info, containers_statuses: [], timestamp: String(Date.now() * 1_000_000) };
    }),

    ListPodSandbox: unary('ListPodSandbox', async (req) => ({
      items: (await d.sandboxes.list(toSandboxFilter(req.filter))).map(toPodSandbox),
    })),
  };
}
