// The fixed part of a pod's hosts file as kubelet writes its managed /etc/hosts: the loopback
// names, the pod's own hostname on its IP (with its FQDN when it has a subdomain), the
// hostAliases. The Services' lines follow it (hosts-slots.ts). Pure.
import type { HostAlias } from '../manifest/pod-spec.js';
import { CLUSTER_DOMAIN, hostsLines } from './service-hosts.js';

export interface PodHostsInfo {
  ip: string;
  hostname: string;
  namespace: string;
  subdomain?: string;
  hostAliases?: readonly HostAlias[];
}

export function podHostsHeader(p: PodHostsInfo): string {
  const lines = [
    '# Kubernetes-managed hosts file (crib run).',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::0\tip6-mcastprefix',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
  ];
  if (p.ip) lines.push(p.subdomain ? `${p.ip}\t${p.hostname}.${p.subdomain}.${p.namespace}.svc.${CLUSTER_DOMAIN}\t${p.hostname}` : `${p.ip}\t${p.hostname}`);
  if (p.hostAliases?.length) {
    lines.push('', '# Entries added by HostAliases.');
    for (const a of p.hostAliases) lines.push(...hostsLines(a.ip, a.hostnames));
  }
  lines.push('', '# Entries for the Services of this crib run (kept current; lines starting with # are free).');
  return lines.join('\n') + '\n';
}
