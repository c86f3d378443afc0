import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DnsConfig, SandboxConfig } from './types.js';

/**
 * The pod's hostname: the one asked for, else the node's, as containerd and CRI-O do (kubelet
 * always sends one for a pod with its own network; it applies the naming rules).
 */
export function podHostname(config: Pick<SandboxConfig, 'hostname'>): string {
  return config.hostname || os.hostname();
}

/** /etc/resolv.conf for the pod: from the request's DNS config, else the host's. */
export function resolvConf(dns: DnsConfig | undefined, hostResolv: string): string {
  if (!dns || (dns.servers.length === 0 && dns.searches.length === 0 && dns.options.length === 0)) return hostResolv;
  const lines: string[] = [];
  if (dns.searches.length) lines.push(`search ${dns.searches.join(' ')}`);
  for (const s of dns.servers) lines.push(`nameserver ${s}`);
  if (dns.options.length) lines.push(`options ${dns.options.join(' ')}`);
  return lines.join('\n') + '\n';
}

/** /etc/hosts for the pod: loopback names, and the pod's hostname on its IP once it has one. */
export function hostsFile(hostname: string, podIP?: string): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
  ];
  if (hostname && podIP) lines.push(`${podIP}\t${hostname}`);
  return lines.join('\n') + '\n';
}

export const podFilePaths = (podDir: string) => ({
  hostname: path.join(podDir, 'hostname'),
  resolvConf: path.join(podDir, 'resolv.conf'),
  hosts: path.join(podDir, 'hosts'),
});

export async function writePodFiles(podDir: string, hostname: string, dns: DnsConfig | undefined): Promise<void> {
  const files = podFilePaths(podDir);
  const hostResolv = await fs.readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  await Promise.all([
    fs.writeFile(files.hostname, `${hostname}\n`),
    fs.writeFile(files.resolvConf, resolvConf(dns, hostResolv)),
    fs.writeFile(files.hosts, hostsFile(hostname)),
  ]);
}

/** Rewrites hosts in place (same inode), so containers that bind-mounted it see the change. */
export async function updateHosts(podDir: string, hostname: string, podIP: string): Promise<void> {
  await fs.writeFile(podFilePaths(podDir).hosts, hostsFile(hostname, podIP));
}
