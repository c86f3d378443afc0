import type { CriClients } from './client.js';

/**
 * What every client of cribd's socket gets (the CLI's commands, crib run and its supervisor in
 * src/kube): the CRI clients, where to write, and how (colour only on a TTY without NO_COLOR). Commands return their exit code
 * (0 ok, 1 runtime error, 2 usage error; `exec` the command's own code).
 */
export interface ClientContext {
  clients: CriClients;
  /** The socket path the clients talk to. */
  socket: string;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  /** Whether `out` is a terminal (progress bars are redrawn in place only then). */
  isTTY: boolean;
  /** Whether to colour output (a TTY and NO_COLOR unset). */
  color: boolean;
}
