import path from 'node:path';
import { invalidArgument } from '../util/errors.js';
import { validateName } from '../sandbox/validate.js';
import type { ContainerConfig } from './types.js';

/** Checks a container config; throws INVALID_ARGUMENT naming the CRI field at fault. */
export function validateContainerConfig(c: ContainerConfig): void {
  validateName('config.metadata.name', c.metadata.name);
  if (!c.image) throw invalidArgument('config.image.image', 'required');
  if (c.logPath) {
    if (path.isAbsolute(c.logPath)) throw invalidArgument('config.log_path', `"${c.logPath}" must be relative to the sandbox's log_directory`);
    const norm = path.normalize(c.logPath);
    if (norm.startsWith('..') || norm.includes('\0')) throw invalidArgument('config.log_path', `"${c.logPath}" escapes the sandbox's log_directory`);
  }
  c.mounts.forEach((m, i) => {
    if (!path.isAbsolute(m.containerPath)) throw invalidArgument(`config.mounts[${i}].container_path`, `"${m.containerPath}" must be absolute`);
    if (!path.isAbsolute(m.hostPath)) throw invalidArgument(`config.mounts[${i}].host_path`, `"${m.hostPath}" must be absolute`);
  });
  c.devices.forEach((d, i) => {
    if (!path.isAbsolute(d.containerPath)) throw invalidArgument(`config.devices[${i}].container_path`, `"${d.containerPath}" must be absolute`);
    if (!/^[rwm]*$/.test(d.permissions)) throw invalidArgument(`config.devices[${i}].permissions`, `"${d.permissions}" must be letters of "rwm"`);
  });
  c.envs.forEach((e, i) => {
    if (!e.key || e.key.includes('=')) throw invalidArgument(`config.envs[${i}].key`, `"${e.key}" is not a variable name`);
  });
  const sec = c.security;
  if (sec.runAsGroup !== undefined && sec.runAsUser === undefined && !sec.runAsUsername) {
    // A group alone would mix with the image's user in ways nobody asked for; containerd refuses it too.
    throw invalidArgument('config.linux.security_context.run_as_group', 'is set without run_as_user or run_as_username');
  }
  const ns = c.security.namespaces;
  if (ns.pid === 'TARGET' && !ns.targetId) {
    throw invalidArgument('config.linux.security_context.namespace_options.target_id', 'required with pid TARGET');
  }
}
