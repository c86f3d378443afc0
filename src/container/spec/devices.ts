import fs from 'node:fs/promises';
import { invalidArgument } from '../../util/errors.js';
import type { ContainerDevice } from '../types.js';
import type { DeviceNode } from './container-spec.js';

/** Looks up each requested host device node (type and numbers) for the OCI spec. */
export async function hostDevices(devices: ContainerDevice[]): Promise<DeviceNode[]> {
  const out: DeviceNode[] = [];
  for (const [i, d] of devices.entries()) {
    let st;
    try {
      st = await fs.stat(d.hostPath);
    } catch {
      throw invalidArgument(`config.devices[${i}].host_path`, `"${d.hostPath}" does not exist`);
    }
    if (!st.isCharacterDevice() && !st.isBlockDevice()) throw invalidArgument(`config.devices[${i}].host_path`, `"${d.hostPath}" is not a device`);
    out.push({
      path: d.containerPath,
      type: st.isCharacterDevice() ? 'c' : 'b',
      major: Math.floor(st.rdev / 256) & 0xfff,
      minor: (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00),
      fileMode: st.mode & 0o777,
      uid: st.uid,
      gid: st.gid,
    });
  }
  return out;
}
