import { isIP } from 'node:net';
import path from 'node:path';
import { invalidArgument } from '../util/errors.js';
import type { SandboxConfig } from './types.js';

const sysctlKeyRe = /^[a-z0-9_]+([./][a-z0-9_-]+)+$/;

/** Container and sandbox ids: what crib generates (hex) and what other tools use, never a path. */
export function validateId(field: string, id: string): void {
  if (!id) throw invalidArgument(field, 'must not be empty');
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/.test(id)) throw invalidArgument(field, `"${id}" is not a valid id`);
}

/**
 * A metadata name (pod name, namespace, uid, container name). The CRI sets no length or character
 * rules (those are the API server's), so neither does crib, beyond what protects the node: no
 * control characters (they would forge log lines and terminal output) and, for what goes into
 * CNI_ARGS, no ';' (it would inject plugin arguments).
 */
export function validateName(field: string, value: string, opts: { required?: boolean; cniArg?: boolean } = {}): void {
  if (!value) {
    if (opts.required ?? true) throw invalidArgument(field, 'must not be empty');
    return;
  }
  if (/[\x00-\x1f\x7f]/.test(value)) throw invalidArgument(field, `${JSON.stringify(value)} must not contain control characters`);
  if (opts.cniArg && value.includes(';')) throw invalidArgument(field, `"${value}" must not contain ';' (it is passed to CNI plugins in CNI_ARGS)`);
}

/**
 * The kernel's limit (HOST_NAME_MAX) and nothing that breaks /etc/hosts or /etc/hostname; the
 * RFC 1123 rules are kubelet's to apply, as containerd and CRI-O leave them to it.
 */
export function validateHostname(field: string, hostname: string): void {
  if (Buffer.byteLength(hostname) > 64) throw invalidArgument(field, `"${hostname}" is longer than the kernel's 64 bytes`);
  if (/[\s\x00-\x1f\x7f/]/.test(hostname)) throw invalidArgument(field, `${JSON.stringify(hostname)} must not contain spaces, control characters or '/'`);
}

export function validateAbsolutePath(field: string, p: string): void {
  if (!path.isAbsolute(p)) throw invalidArgument(field, `"${p}" must be an absolute path`);
  if (p.includes('\0') || p.split('/').includes('..')) throw invalidArgument(field, `"${p}" must not contain ".." or NUL`);
}

/** Sysctls that are per-namespace, so a pod may set them; which namespace each needs. */
export function sysctlNamespace(key: string): 'net' | 'ipc' | undefined {
  if (key.startsWith('net.')) return 'net';
  if (/^kernel\.(shm[a-z_]*|msg[a-z_]*|sem)$/.test(key) || key.startsWith('fs.mqueue.')) return 'ipc';
  return undefined;
}

/** Checks a sandbox config; throws INVALID_ARGUMENT naming the CRI field at fault. */
export function validateSandboxConfig(c: SandboxConfig): void {
  validateName('config.metadata.name', c.metadata.name, { cniArg: true });
  validateName('config.metadata.namespace', c.metadata.namespace, { cniArg: true });
  validateName('config.metadata.uid', c.metadata.uid, { required: false, cniArg: true });
  if (c.hostname) validateHostname('config.hostname', c.hostname);
  if (c.logDirectory) validateAbsolutePath('config.log_directory', c.logDirectory);
  if (c.dnsConfig) {
    for (const s of c.dnsConfig.servers) {
      if (!isIP(s)) throw invalidArgument('config.dns_config.servers', `"${s}" is not an IP address`);
    }
    for (const s of c.dnsConfig.searches) {
      if (!s || /\s/.test(s)) throw invalidArgument('config.dns_config.searches', `"${s}" is not a domain`);
    }
    for (const o of c.dnsConfig.options) {
      if (!o || /\s/.test(o)) throw invalidArgument('config.dns_config.options', `"${o}" is not a resolver option`);
    }
  }
  c.portMappings.forEach((p, i) => {
    const f = `config.port_mappings[${i}]`;
    if (!(p.containerPort >= 1 && p.containerPort <= 65535)) throw invalidArgument(`${f}.container_port`, `${p.containerPort} is not a port`);
    if (!(p.hostPort >= 0 && p.hostPort <= 65535)) throw invalidArgument(`${f}.host_port`, `${p.hostPort} is not a port`);
    if (p.hostIP && !isIP(p.hostIP)) throw invalidArgument(`${f}.host_ip`, `"${p.hostIP}" is not an IP address`);
  });
  const ns = c.namespaces;
  if (ns.network !== 'POD' && ns.network !== 'NODE') {
    throw invalidArgument('config.linux.security_context.namespace_options.network', `${ns.network} is not allowed for a sandbox (POD or NODE)`);
  }
  if (ns.ipc !== 'POD' && ns.ipc !== 'NODE') {
    throw invalidArgument('config.linux.security_context.namespace_options.ipc', `${ns.ipc} is not allowed for a sandbox (POD or NODE)`);
  }
  if (ns.pid === 'TARGET') {
    throw invalidArgument('config.linux.security_context.namespace_options.pid', 'TARGET is only for containers');
  }
  if (c.cgroupParent) {
    validateAbsolutePath('config.linux.cgroup_parent', c.cgroupParent);
    if (c.cgroupParent.endsWith('.slice')) {
      throw invalidArgument('config.linux.cgroup_parent', `"${c.cgroupParent}" is a systemd slice; crib uses the cgroupfs driver`);
    }
  }
  for (const [key, value] of Object.entries(c.sysctls)) {
    const f = `config.linux.sysctls[${key}]`;
    if (!sysctlKeyRe.test(key)) throw invalidArgument(f, 'not a sysctl name');
    const needs = sysctlNamespace(key.replaceAll('/', '.'));
    if (!needs) throw invalidArgument(f, 'not a namespaced sysctl; only net.*, kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* may be set per pod');
    if (needs === 'net' && ns.network === 'NODE') throw invalidArgument(f, 'cannot be set for a pod on the node network');
    if (needs === 'ipc' && ns.ipc === 'NODE') throw invalidArgument(f, 'cannot be set for a pod on the node IPC namespace');
    if (!value || /[\n\0]/.test(value)) throw invalidArgument(f, 'needs a single-line value');
  }
  if (c.runAsUser !== undefined && !(c.runAsUser >= 0 && c.runAsUser < 2 ** 32)) throw invalidArgument('config.linux.security_context.run_as_user', 'out of range');
  if (c.runAsGroup !== undefined && !(c.runAsGroup >= 0 && c.runAsGroup < 2 ** 32)) throw invalidArgument('config.linux.security_context.run_as_group', 'out of range');
}
