import { invalidArgument } from '../util/errors.js';
import type { NamespaceMode, UserNamespaceConfig } from '../sandbox/types.js';
import type { UserNamespace__Output } from './generated/runtime/v1/UserNamespace.js';

const modes: readonly NamespaceMode[] = ['POD', 'CONTAINER', 'NODE', 'TARGET'];

/** NamespaceOption.userns_options → crib's (shape only: the rules are in sandbox/userns.ts). Absent stays absent. */
export function toUserNamespace(field: string, u: UserNamespace__Output | null | undefined): UserNamespaceConfig | undefined {
  if (!u) return undefined;
  const mode = modes[u.mode];
  if (!mode) throw invalidArgument(`${field}.mode`, `unknown namespace mode ${u.mode}`);
  const ids = (list: UserNamespace__Output['uids']) => list.map((m) => ({ containerId: m.container_id, hostId: m.host_id, length: m.length }));
  return { mode, uids: ids(u.uids), gids: ids(u.gids) };
}
