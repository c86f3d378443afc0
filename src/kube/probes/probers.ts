// Running probes and lifecycle hooks as kubelet's prober does: exec through ExecSync in the
// container, httpGet and tcpSocket from the node to the pod's IP (a 2xx or 3xx answer succeeds),
// and the gRPC health protocol (grpc.health.v1.Health/Check answering SERVING).
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { call } from '../../client/client.js';
import type { ClientContext } from '../../client/context.js';
import { describeError } from '../../client/errors.js';
import { GrpcChannel } from '../../client/grpc/channel.js';
import type { GrpcError } from '../../client/grpc/status.js';
import { sleep } from '../loop/abort.js';
import type { Hook, HttpGet, ProbeHandler } from '../manifest/pod-spec.js';
import type { ProbeOutcome } from './probe.js';

export interface ProbeTarget {
  ctx: ClientContext;
  containerId: string;
  /** The pod's IP ('' for a pod on the node's network: then 127.0.0.1). */
  podIP: string;
  /** Cuts a sleep hook short and cancels an exec (cribd kills the command): a hurried teardown. */
  cancel?: AbortSignal;
}

export interface ProbeResult {
  outcome: ProbeOutcome;
  /** Why it failed (or what it answered), for messages. */
  detail: string;
}

/** kubelet's User-Agent for probes (servers sometimes answer it specially). */
const USER_AGENT = 'kube-probe/1.30';
/** kubelet reads at most this much of a probe's answer. */
const MAX_BODY = 10 * 1024;

const hostOf = (t: ProbeTarget, host: string | undefined): string => host ?? (t.podIP || '127.0.0.1');

async function execIn(t: ProbeTarget, cmd: string[], timeoutSeconds: number): Promise<ProbeResult> {
  try {
    const r = await call(t.ctx.clients.runtime, 'ExecSync', { container_id: t.containerId, cmd, timeout: timeoutSeconds }, timeoutSeconds + 30, t.cancel);
    const out = (Buffer.from(r.stdout).toString() + Buffer.from(r.stderr).toString()).trim();
    const tail = out ? `: ${out.split('\n').slice(-3).join('; ').slice(0, 300)}` : '';
    return r.exit_code === 0 ? { outcome: 'success', detail: out.slice(0, 300) } : { outcome: 'failure', detail: `exit code ${r.exit_code}${tail}` };
  } catch (err) {
    return { outcome: 'failure', detail: describeError(err) };
  }
}

export function httpGet(g: HttpGet, host: string, timeoutSeconds: number): Promise<ProbeResult> {
  const headers: Record<string, string> = { 'User-Agent': USER_AGENT, Accept: '*/*' };
  for (const h of g.headers) headers[h.name] = h.value;
  const mod = g.scheme === 'HTTPS' ? https : http;
  return new Promise((resolve) => {
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      resolve(r);
    };
    // The probe's target is the pod: its certificate is whatever it serves (kubelet does not verify either).
    const req = mod.get({ host, port: g.port, path: g.path, headers, rejectUnauthorized: false, agent: false }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => {
        if (body.length < MAX_BODY) body += b.toString('utf8', 0, Math.min(b.length, MAX_BODY - body.length));
      });
      res.on('end', () => {
        const code = res.statusCode ?? 0;
        const detail = `HTTP ${code}${body.trim() ? `: ${body.trim().split('\n')[0]?.slice(0, 200) ?? ''}` : ''}`;
        done({ outcome: code >= 200 && code < 400 ? 'success' : 'failure', detail });
      });
      res.on('error', (err) => done({ outcome: 'failure', detail: err.message }));
    });
    const timer = setTimeout(() => {
      req.destroy();
      done({ outcome: 'failure', detail: `no answer within ${timeoutSeconds}s (GET ${g.scheme.toLowerCase()}://${host}:${g.port}${g.path})` });
    }, timeoutSeconds * 1000);
    req.on('error', (err) => done({ outcome: 'failure', detail: `GET ${g.scheme.toLowerCase()}://${host}:${g.port}${g.path}: ${err.message}` }));
  });
}

export function tcpConnect(host: string, port: number, timeoutSeconds: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () => done({ outcome: 'failure', detail: `dial ${host}:${port}: no connection within ${timeoutSeconds}s` }),
      timeoutSeconds * 1000,
    );
    s.once('connect', () => done({ outcome: 'success', detail: `connected to ${host}:${port}` }));
    s.once('error', (err) => done({ outcome: 'failure', detail: `dial ${host}:${port}: ${err.message}` }));
  });
}

/** HealthCheckRequest { string service = 1; } in protobuf's wire format. */
export function encodeHealthRequest(service: string): Buffer {
  if (!service) return Buffer.alloc(0);
  const s = Buffer.from(service, 'utf8');
  const len: number[] = [];
  let n = s.length;
  do {
    len.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n > 0);
  return Buffer.concat([Buffer.from([0x0a, ...len]), s]);
}

/** HealthCheckResponse's status (field 1, a varint): 1 is SERVING; 0 when absent (UNKNOWN). */
export function decodeHealthStatus(b: Buffer): number {
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (; i < b.length && shift < 35; shift += 7) {
      const byte = b[i++] as number;
      v |= (byte & 0x7f) << shift;
      if (!(byte & 0x80)) return v >>> 0;
    }
    throw new Error('truncated varint');
  };
  while (i < b.length) {
    const tag = varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 0) return varint();
    if (wire === 0) varint();
    else if (wire === 2) {
      const len = varint(); // read before adding: `i += varint()` would add to the i from before the length
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`wire type ${wire}`);
  }
  return 0;
}

const HEALTH_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

export function grpcHealth(host: string, port: number, service: string, timeoutSeconds: number): Promise<ProbeResult> {
  const target = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
  const channel = new GrpcChannel({ host, port }, 'crib-probe');
  return channel.unary('/grpc.health.v1.Health/Check', encodeHealthRequest(service), Date.now() + timeoutSeconds * 1000).then(
    (res): ProbeResult => {
      channel.close();
      let status: number;
      try {
        status = decodeHealthStatus(res);
      } catch (e) {
        return { outcome: 'failure', detail: `grpc ${target}: malformed answer (${describeError(e)})` };
      }
      const name = HEALTH_STATUS[status] ?? String(status);
      return { outcome: status === 1 ? 'success' : 'failure', detail: `grpc ${target}: ${name}` };
    },
    (err: GrpcError): ProbeResult => {
      channel.close();
      return { outcome: 'failure', detail: `grpc ${target}: ${err.details || err.message}` };
    },
  );
}

/** Runs one probe against a container. */
export function runProbe(h: ProbeHandler, t: ProbeTarget, timeoutSeconds: number): Promise<ProbeResult> {
  if ('exec' in h) return execIn(t, h.exec, timeoutSeconds);
  if ('httpGet' in h) return httpGet(h.httpGet, hostOf(t, h.httpGet.host), timeoutSeconds);
  if ('tcpSocket' in h) return tcpConnect(hostOf(t, h.tcpSocket.host), h.tcpSocket.port, timeoutSeconds);
  return grpcHealth(hostOf(t, undefined), h.grpc.port, h.grpc.service, timeoutSeconds);
}

/** Runs a lifecycle hook, bounded by `timeoutSeconds`; returns why it failed, if it did. */
export async function runHook(h: Hook, t: ProbeTarget, timeoutSeconds: number): Promise<string | undefined> {
  if ('sleepSeconds' in h) {
    await sleep(Math.min(h.sleepSeconds, timeoutSeconds) * 1000, t.cancel).catch(() => undefined);
    return undefined;
  }
  const r =
    'exec' in h ? await execIn(t, h.exec, Math.max(1, timeoutSeconds)) : await httpGet(h.httpGet, hostOf(t, h.httpGet.host), Math.max(1, timeoutSeconds));
  return r.outcome === 'success' ? undefined : r.detail;
}

/** How a hook or probe reads in messages. */
export function describeHandler(h: Hook | ProbeHandler): string {
  if ('exec' in h) return `exec ${JSON.stringify(h.exec)}`;
  if ('httpGet' in h) return `httpGet ${h.httpGet.scheme.toLowerCase()}://${h.httpGet.host ?? 'POD'}:${h.httpGet.port}${h.httpGet.path}`;
  if ('tcpSocket' in h) return `tcpSocket ${h.tcpSocket.host ?? 'POD'}:${h.tcpSocket.port}`;
  if ('grpc' in h) return `grpc :${h.grpc.port}${h.grpc.service ? ` ${h.grpc.service}` : ''}`;
  return `sleep ${h.sleepSeconds}s`;
}
