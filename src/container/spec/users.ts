import { CribError } from '../../util/errors.js';
import { validateUnixId } from '../../util/validate.js';

/** The identity a container's process runs with. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups, without the primary gid. */
  additionalGids: number[];
}

export interface UserRequest {
  runAsUser?: number;
  runAsGroup?: number;
  runAsUsername?: string;
  /** The image config's `User`: `name`, `uid`, `name:group`, `uid:gid`, `uid:groupname`, `name:gid`. */
  imageUser?: string;
  supplementalGroups: number[];
  /** Strict: the image's /etc/group memberships are not added (SupplementalGroupsPolicy). Default Merge. */
  supplementalGroupsPolicy?: 'Merge' | 'Strict';
  /** The text of the container rootfs's /etc/passwd; absent when the image has none. */
  passwd?: string;
  /** The text of the container rootfs's /etc/group; absent when the image has none. */
  group?: string;
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const SC = 'config.linux.security_context';

/** An id from the request or the image, as the OCI runtime will take it. */
function checkId(v: number, field: string): number {
  validateUnixId(field, v);
  return v;
}

function numeric(s: string): number | undefined {
  return /^[0-9]+$/.test(s) ? Number(s) : undefined;
}

/** The fields of each line of a colon-separated database, without comments and NIS compat (`+`/`-`) entries. */
function records(text: string | undefined): string[][] {
  return (text ?? '')
    .split('\n')
    .map((raw) => raw.trim())
    .filter((line) => !/^[#+-]/.test(line))
    .map((line) => line.split(':'));
}

/**
 * Parses /etc/passwd (`name:x:uid:gid:gecos:home:shell`). A line without decimal uid and gid is
 * skipped (as glibc does); one with an empty name is kept (as glibc and moby/sys/user do).
 */
export function parsePasswd(text: string | undefined): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const f of records(text)) {
    const uid = numeric(f[2] ?? '');
    const gid = numeric(f[3] ?? '');
    if (uid !== undefined && gid !== undefined) out.push({ name: f[0]!, uid, gid });
  }
  return out;
}

/** Parses /etc/group (`name:x:gid:member,member`), with the rules of parsePasswd. */
export function parseGroup(text: string | undefined): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const f of records(text)) {
    const gid = numeric(f[2] ?? '');
    if (gid === undefined) continue;
    const members = (f[3] ?? '')
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean);
    out.push({ name: f[0]!, gid, members });
  }
  return out;
}

/**
 * The uid, gid and supplementary gids of a container's process, as kubelet and containerd
 * decide them: run_as_user wins, then run_as_username, then the image's `User`, else root.
 * Names are looked up in the image's /etc/passwd and /etc/group (first entry wins). The gid is
 * run_as_group, else the group the image's `User` names, else the user's passwd gid, else 0.
 * Supplementary gids are the /etc/group groups listing the user as a member (not with the Strict
 * policy), then supplemental_groups, deduplicated, without the primary gid.
 */
export function resolveUser(opts: UserRequest): ResolvedUser {
  const users = parsePasswd(opts.passwd);
  const groups = parseGroup(opts.group);

  const byName = (name: string, field: string): PasswdEntry => {
    const e = users.find((u) => u.name === name);
    if (!e) throw new CribError('InvalidArgument', `${field}: user "${name}" not found in the image's /etc/passwd`);
    return e;
  };

  let uid: number;
  let entry: PasswdEntry | undefined;
  let gid: number | undefined;

  if (opts.runAsUser !== undefined) {
    uid = checkId(opts.runAsUser, `${SC}.run_as_user`);
    entry = users.find((u) => u.uid === uid);
  } else if (opts.runAsUsername) {
    const field = `${SC}.run_as_username`;
    const n = numeric(opts.runAsUsername);
    if (n !== undefined) {
      uid = checkId(n, field);
      entry = users.find((u) => u.uid === uid);
    } else {
      entry = byName(opts.runAsUsername, field);
      uid = entry.uid;
    }
  } else if (opts.imageUser) {
    const field = `image config User "${opts.imageUser}"`;
    const sep = opts.imageUser.indexOf(':');
    const userPart = sep < 0 ? opts.imageUser : opts.imageUser.slice(0, sep);
    const groupPart = sep < 0 ? '' : opts.imageUser.slice(sep + 1);
    if (!userPart) throw new CribError('InvalidArgument', `${field}: no user before the ":"`);
    const n = numeric(userPart);
    if (n !== undefined) {
      uid = checkId(n, field);
      entry = users.find((u) => u.uid === uid);
    } else {
      entry = byName(userPart, field);
      uid = entry.uid;
    }
    if (groupPart) {
      const g = numeric(groupPart);
      if (g !== undefined) gid = checkId(g, field);
      else {
        const ge = groups.find((x) => x.name === groupPart);
        if (!ge) throw new CribError('InvalidArgument', `${field}: group "${groupPart}" not found in the image's /etc/group`);
        gid = ge.gid;
      }
    }
  } else {
    uid = 0;
    entry = users.find((u) => u.uid === 0);
  }

  if (opts.runAsGroup !== undefined) gid = checkId(opts.runAsGroup, `${SC}.run_as_group`);
  const primary = gid ?? entry?.gid ?? 0;

  const extra: number[] = [];
  if (entry && opts.supplementalGroupsPolicy !== 'Strict') {
    const name = entry.name;
    for (const g of groups) if (g.members.includes(name)) extra.push(g.gid);
  }
  opts.supplementalGroups.forEach((g, i) => extra.push(checkId(g, `${SC}.supplemental_groups[${i}]`)));
  const additionalGids = [...new Set(extra)].filter((g) => g !== primary);
  return { uid, gid: primary, additionalGids };
}

/**
 * The process's supplementary groups as the spec and ContainerStatus.user give them: the primary
 * gid stays in the set (containerd's fix for CVE-2023-25173: a process that changes its gid must
 * not shed a group that denies it access), then the others.
 */
export function processGroups(u: ResolvedUser): number[] {
  return [u.gid, ...u.additionalGids.filter((g) => g !== u.gid)];
}
