import type { ContainerEventResponse__Output } from '../cri/generated/runtime/v1/ContainerEventResponse.js';
import { serverStream } from '../client/client.js';
import type { Command } from './command.js';
import { outputFormat } from './output.js';

const TYPES = ['CREATED', 'STARTED', 'STOPPED', 'DELETED'];
const SANDBOX_STATES = ['READY', 'NOTREADY'];
const CONTAINER_STATES = ['CREATED', 'RUNNING', 'EXITED', 'UNKNOWN'];

/** One line per event: time, type, what (pod or container) and its state then. */
export function formatEvent(e: ContainerEventResponse__Output): string {
  const time = new Date(Number(BigInt(e.created_at) / 1_000_000n)).toISOString();
  const type = TYPES[e.container_event_type] ?? String(e.container_event_type);
  const sb = e.pod_sandbox_status;
  const pod = sb?.metadata ? `${sb.metadata.namespace}/${sb.metadata.name}` : '?';
  if (sb && sb.id === e.container_id)
    return `${time}  ${type.padEnd(8)} pod        ${e.container_id.slice(0, 13)}  ${pod} (${SANDBOX_STATES[sb.state] ?? sb.state})`;
  const c = e.containers_statuses.find((s) => s.id === e.container_id);
  const name = c?.metadata?.name ?? '?';
  const state = c ? `${CONTAINER_STATES[c.state] ?? c.state}${c.state === 2 ? `, exit ${c.exit_code}` : ''}` : 'gone';
  return `${time}  ${type.padEnd(8)} container  ${e.container_id.slice(0, 13)}  ${pod} ${name} (${state})`;
}

export const eventsCommand: Command = {
  name: 'events',
  synopsis: '[-o table|json]',
  summary: 'Print the lifecycle events of pods and containers as they happen (GetContainerEvents), until interrupted.',
  details: '  -o, --output FORMAT   table (default: one line per event) or json (one object per line)',
  flags: { value: ['output'], alias: { o: 'output' } },
  async run(args, ctx) {
    const json = outputFormat(args.get('output')) === 'json';
    const stream = serverStream(ctx.clients.runtime, 'GetContainerEvents', {});
    const stop = () => stream.cancel();
    process.once('SIGINT', stop).once('SIGTERM', stop);
    return new Promise<number>((resolve) => {
      stream.on('data', (e: ContainerEventResponse__Output) => ctx.out.write(`${json ? JSON.stringify(e) : formatEvent(e)}\n`));
      stream.on('error', (err: Error & { code?: number }) => {
        if (err.code !== 1 /* CANCELLED: we stopped it */) ctx.err.write(`crib events: ${err.message}\n`);
        resolve(err.code === 1 ? 0 : 1);
      });
      stream.on('end', () => resolve(0));
    });
  },
};
