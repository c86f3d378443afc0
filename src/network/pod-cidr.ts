import { isIPv4, isIPv6 } from 'node:net';
import { invalidArgument } from '../util/errors.js';

/**
 * kubelet's pod CIDR as UpdateRuntimeConfig sends it: one CIDR, or an IPv4 and an IPv6 one joined
 * by a comma (dual stack). Returns them in order; throws INVALID_ARGUMENT naming `field`.
 */
export function parsePodCidrs(text: string, field: string): string[] {
  const cidrs = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (cidrs.length > 2) throw invalidArgument(field, `at most one IPv4 and one IPv6 CIDR, got ${cidrs.length}`);
  const families = new Set<number>();
  for (const c of cidrs) {
    const m = /^([^/]+)\/(\d{1,3})$/.exec(c);
    const ip = m?.[1] ?? '';
    const family = isIPv4(ip) ? 4 : isIPv6(ip) ? 6 : 0;
    const prefix = Number(m?.[2]);
    if (!family || !(prefix >= 1 && prefix <= (family === 4 ? 30 : 126))) {
      throw invalidArgument(field, `${JSON.stringify(c.slice(0, 60))} is not a CIDR with room for pods`);
    }
    if (families.has(family)) throw invalidArgument(field, `two IPv${family} CIDRs`);
    families.add(family);
  }
  return cidrs;
}
