import fs from 'node:fs';
import path from 'node:path';
import { call } from '../src/client/client.js';
import type { ContainerConfig } from '../src/cri/generated/runtime/v1/ContainerConfig.js';
import type { PodSandboxConfig } from '../src/cri/generated/runtime/v1/PodSandboxConfig.js';
import type { Target } from './runtimes.js';
import { pool } from './stats.js';

/**
 * The pods and containers every scenario asks for, identical for both runtimes except where a
 * runtime's own directories go. Shaped like kubelet's requests: a log directory that exists (kubelet
 * makes it), a cgroup_parent per pod, and a grace-period annotation.
 */

/** A long-running container that ends at once on SIGTERM (a bare `sleep` as PID 1 would ignore it and wait out the grace period). */
export const IDLE_COMMAND = ['sh', '-c', 'trap "exit 0" TERM; sleep 100000 & wait'];

export function podConfig(t: Target, name: string): PodSandboxConfig {
  const logDir = path.join(t.logRoot, name);
  fs.mkdirSync(logDir, { recursive: true });
  return {
    metadata: { name, namespace: 'bench', uid: `uid-${name}`, attempt: 0 },
    hostname: name,
    log_directory: logDir,
    labels: { app: name },
    linux: { cgroup_parent: `${t.cgroupRoot}/pod-${name}` },
  };
}

export function containerConfig(t: Target, name: string, command: string[] = IDLE_COMMAND): ContainerConfig {
  return {
    metadata: { name, attempt: 0 },
    image: { image: t.image },
    command,
    log_path: `${name}.log`,
    annotations: { 'io.kubernetes.pod.terminationGracePeriod': '30' },
  };
}

export async function runPod(t: Target, name: string): Promise<{ podId: string; config: PodSandboxConfig }> {
  const config = podConfig(t, name);
  const res = await call(t.clients.runtime, 'RunPodSandbox', { config });
  return { podId: res.pod_sandbox_id, config };
}

export async function startContainer(t: Target, podId: string, sandboxConfig: PodSandboxConfig, name: string, command?: string[]): Promise<string> {
  const c = await call(t.clients.runtime, 'CreateContainer', {
    pod_sandbox_id: podId,
    config: containerConfig(t, name, command),
    sandbox_config: sandboxConfig,
  });
  await call(t.clients.runtime, 'StartContainer', { container_id: c.container_id });
  return c.container_id;
}

export interface RunningPod {
  podId: string;
  containerIds: string[];
}

/** RunPodSandbox, then CreateContainer + StartContainer for each named container. */
export async function startPod(t: Target, name: string, containers: readonly string[], command?: string[]): Promise<RunningPod> {
  const { podId, config } = await runPod(t, name);
  const containerIds: string[] = [];
  for (const c of containers) containerIds.push(await startContainer(t, podId, config, c, command));
  return { podId, containerIds };
}

export async function stopRemovePod(t: Target, podId: string): Promise<void> {
  await call(t.clients.runtime, 'StopPodSandbox', { pod_sandbox_id: podId });
  await call(t.clients.runtime, 'RemovePodSandbox', { pod_sandbox_id: podId });
}

/** Stops and removes every pod of the runtime through the CRI, each one tried even when another fails. */
export async function removeAllPods(t: Target, concurrency = 4): Promise<void> {
  const ids = (await call(t.clients.runtime, 'ListPodSandbox', {})).items.map((p) => p.id);
  const failures: string[] = [];
  await pool(ids.length, concurrency, (i) => stopRemovePod(t, ids[i] ?? '').catch((err: unknown) => void failures.push(String(err))));
  if (failures.length) throw new Error(`removing ${failures.length} of ${ids.length} pods failed: ${failures[0]}`);
}

/** The pid a verbose status reports (both runtimes put it in info.info as JSON). */
export function verbosePid(info: Record<string, string> | undefined): number {
  const parsed = JSON.parse(info?.['info'] ?? '{}') as { pid?: unknown };
  if (typeof parsed.pid !== 'number' || parsed.pid <= 0) throw new Error('verbose status has no pid');
  return parsed.pid;
}
