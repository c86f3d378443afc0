import { readKernelFile } from '../util/fsx.js';

/** One interface's counters since it was made, as /proc/net/dev gives them. */
export interface InterfaceUsage {
  name: string;
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDropped: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDropped: number;
}

/**
 * Pure: the interfaces of a /proc/PID/net/dev text, loopback left out (traffic within the pod is
 * not the pod's network use; cAdvisor leaves it out too). Lines that do not parse are skipped.
 */
export function parseNetDev(text: string): InterfaceUsage[] {
  const out: InterfaceUsage[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map((x) => (/^\d+$/.test(x) ? Number(x) : NaN));
    if (!name || name === 'lo' || f.length < 16 || f.some((x) => Number.isNaN(x))) continue;
    const n = (i: number) => f[i] ?? 0;
    out.push({
      name,
      rxBytes: n(0),
      rxPackets: n(1),
      rxErrors: n(2),
      rxDropped: n(3),
      txBytes: n(8),
      txPackets: n(9),
      txErrors: n(10),
      txDropped: n(11),
    });
  }
  return out;
}

/** The interfaces of the network namespace process `pid` is in; undefined if it is gone. */
export function netnsInterfaces(pid: number): InterfaceUsage[] | undefined {
  const text = readKernelFile(`/proc/${pid}/net/dev`);
  return text === undefined ? undefined : parseNetDev(text);
}
