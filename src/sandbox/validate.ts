import { isIP } from 'node:net';
import { invalidArgument } from '../util/errors.js';
import { validateAbsolutePath, validateHostname, validateMetadataMap, validateName, validateUnixId } from '../util/validate.js';
import type { SandboxConfig } from './types.js';
import { podUserNamespace, validateUserNamespace } from './userns.js';

const sysctlKeyRe = /^[a-z0-9_]+([./][a-z0-9_-]+)+$/;

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
  validateMetadataMap('config.labels', c.labels);
  validateMetadataMap('config.annotations', c.annotations);
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
  validateUserNamespace('config.linux.security_context.namespace_options.userns_options', c.userns);
  if (podUserNamespace(c.userns)) {
    // The pod's user namespace owns its network, PID and IPC namespaces: a node namespace could not
    // be administered from it, nor /proc and /sys mounted (kubelet's API validation refuses these too).
    for (const kind of ['network', 'pid', 'ipc'] as const) {
      if (ns[kind] === 'NODE')
        throw invalidArgument(`config.linux.security_context.namespace_options.${kind}`, 'NODE cannot go with a user namespace of the pod');
    }
  }
  if (c.runAsUser !== undefined) validateUnixId('config.linux.security_context.run_as_user', c.runAsUser);
  if (c.runAsGroup !== undefined) validateUnixId('config.linux.security_context.run_as_group', c.runAsGroup);
}
