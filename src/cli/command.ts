import type { CommandArgs, FlagSpec } from './args.js';
import type { ClientContext } from '../client/context.js';

/** One `crib` subcommand. run() returns the exit code; UsageError means 2, other errors 1. */
export interface Command {
  name: string;
  aliases?: readonly string[];
  /** `crib NAME ARGS` as the usage line shows it, without `crib NAME`. */
  synopsis: string;
  summary: string;
  /** Further lines of `crib NAME --help` (flags, examples). */
  details?: string;
  flags: FlagSpec;
  run(args: CommandArgs, ctx: ClientContext): Promise<number>;
}

/** A command that parses its own argv (crib run / delete). */
export interface RawCommand {
  name: string;
  aliases?: readonly string[];
  synopsis: string;
  summary: string;
  /**
   * It owns what it started (crib run's pods): a closed stdout or stderr (`crib run | tee log`, tee
   * gone on the same Ctrl-C) must not end it before its teardown; its output is dropped instead.
   */
  outlivesOutput?: boolean;
  raw(argv: string[], ctx: ClientContext): Promise<number>;
}

export function commandUsage(c: Command | RawCommand): string {
  const details = 'details' in c && c.details ? `\n\n${c.details}` : '';
  return `Usage: crib ${c.name}${c.synopsis ? ` ${c.synopsis}` : ''}\n\n${c.summary}${details}`;
}
