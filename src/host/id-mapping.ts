/** One line of a user namespace's uid_map or gid_map: `length` ids from `containerId` up are `hostId` up on the node. */
export interface IdMapping {
  containerId: number;
  hostId: number;
  length: number;
}
