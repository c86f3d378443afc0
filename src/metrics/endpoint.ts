import { listenAddress } from '../config.js';
import { observeCalls } from '../util/context.js';
import { log } from '../util/log.js';
import type { CribMetrics, StateSources } from './crib-metrics.js';
import { MetricsServer } from './server.js';

/** The running Prometheus endpoint. */
export interface MetricsEndpoint {
  /** HOST:PORT it listens on (the port chosen when the configured one was 0). */
  address: string;
  close(): Promise<void>;
}

/** Starts counting CRI calls and serving /metrics on `address` (HOST:PORT, validated with the config). */
export async function startMetricsEndpoint(metrics: CribMetrics, address: string, sources: StateSources): Promise<MetricsEndpoint> {
  const { host, port } = listenAddress('metricsAddress', address);
  metrics.countStates(sources);
  const server = new MetricsServer(host, port, () => metrics.expose());
  const bound = await server.start();
  observeCalls(metrics.calls);
  const hostPort = `${host.includes(':') ? `[${host}]` : host}:${bound.port}`;
  log.info('metrics endpoint listening', { url: `http://${hostPort}/metrics` });
  return {
    address: hostPort,
    async close() {
      observeCalls(undefined);
      await server.close();
    },
  };
}
