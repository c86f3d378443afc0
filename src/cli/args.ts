import { UsageError } from '../client/errors.js';

/** A parsed command line: positional words and --flags (--flag value, --flag=value, or boolean). */
export interface ParsedArgs {
  positional: string[];
  flags: Map<string, string>;
}

/** The daemon's loose parser: any --flag is accepted (the daemon checks the names itself). */
export function parseArgs(argv: readonly string[], booleanFlags: ReadonlySet<string> = new Set()): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    const m = /^--?([a-zA-Z][\w-]*)(?:=(.*))?$/.exec(a);
    if (!m) {
      positional.push(a);
      continue;
    }
    const [, name = '', inlineValue] = m;
    if (inlineValue !== undefined) flags.set(name, inlineValue);
    else if (booleanFlags.has(name)) flags.set(name, 'true');
    else {
      const v = argv[i + 1];
      if (v === undefined) throw new UsageError(`flag --${name} needs a value`);
      flags.set(name, v);
      i++;
    }
  }
  return { positional, flags };
}

/** The flags one command accepts. Names are canonical long names; `alias` maps short ones to them. */
export interface FlagSpec {
  /** Flags without a value (`-q`, `--all`). */
  bool?: readonly string[];
  /** Flags with a value (`--name web`, `--name=web`, `-o json`). */
  value?: readonly string[];
  /** Flags with a value that may be given more than once (`--label a=1 --label b=2`). */
  multi?: readonly string[];
  /** Other spellings: `{ q: 'quiet', a: 'all' }`. */
  alias?: Readonly<Record<string, string>>;
  /**
   * Once this many positional words are seen, the next positional word and everything after it are
   * taken verbatim (exec's command and its own flags); flags before it are still this command's, as
   * kubectl reads `exec POD -c web -- sh`. A `--` ends the flags at any point.
   */
  positionalLimit?: number;
}

/** A command's parsed arguments. */
export class CommandArgs {
  constructor(
    readonly positional: string[],
    private readonly values: Map<string, string[]>,
  ) {}

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** The last value given for a flag. */
  get(name: string): string | undefined {
    return this.values.get(name)?.at(-1);
  }

  /** Every value given for a flag, in order. */
  all(name: string): string[] {
    return this.values.get(name) ?? [];
  }

  /** A flag's value as a non-negative integer (usage error otherwise). */
  int(name: string, fallback: number): number {
    const v = this.get(name);
    if (v === undefined) return fallback;
    if (!/^-?\d+$/.test(v)) throw new UsageError(`--${name} wants a whole number, not "${v}"`);
    return Number(v);
  }
}

/** Flags every command takes. */
const common: FlagSpec = { bool: ['help'], value: ['socket'], alias: { h: 'help' } };

/**
 * Parses a command's arguments against its flags: unknown flags are usage errors. Single-letter
 * boolean flags combine (`-aq`); `--` ends the flags.
 */
export function parseCommandArgs(argv: readonly string[], spec: FlagSpec): CommandArgs {
  const bool = new Set([...(spec.bool ?? []), ...(common.bool ?? [])]);
  const value = new Set([...(spec.value ?? []), ...(spec.multi ?? []), ...(common.value ?? [])]);
  const alias: Record<string, string> = { ...common.alias, ...spec.alias };
  const canonical = (n: string) => alias[n] ?? n;
  const values = new Map<string, string[]>();
  const set = (name: string, v: string) => values.set(name, [...(values.get(name) ?? []), v]);
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (a === '-' || !a.startsWith('-')) {
      if (spec.positionalLimit !== undefined && positional.length >= spec.positionalLimit) {
        positional.push(...argv.slice(i));
        break;
      }
      positional.push(a);
      continue;
    }
    const long = /^--([a-zA-Z][\w-]*)(?:=(.*))?$/.exec(a);
    const short = /^-([a-zA-Z][\w-]*)(?:=(.*))?$/.exec(a);
    const m = long ?? short;
    if (!m) throw new UsageError(`cannot parse "${a}"`);
    let [, name = ''] = m;
    const inline = m[2];
    // -aq: several one-letter booleans at once
    if (!long && name.length > 1 && inline === undefined && !bool.has(canonical(name)) && !value.has(canonical(name))) {
      const letters = [...name].map(canonical);
      const last = letters.at(-1) as string;
      if (letters.slice(0, -1).every((l) => bool.has(l)) && (bool.has(last) || value.has(last))) {
        for (const l of letters.slice(0, -1)) set(l, 'true');
        name = last;
        if (bool.has(last)) {
          set(last, 'true');
          continue;
        }
      } else throw new UsageError(`unknown flag ${a}`);
    }
    const flag = canonical(name);
    if (bool.has(flag)) {
      if (inline !== undefined && !/^(true|false)$/.test(inline)) throw new UsageError(`flag ${a.split('=')[0]} takes no value`);
      if (inline !== 'false') set(flag, 'true');
      continue;
    }
    if (!value.has(flag)) throw new UsageError(`unknown flag ${a.split('=')[0]}`);
    let v = inline;
    if (v === undefined) {
      v = argv[i + 1];
      if (v === undefined) throw new UsageError(`flag ${a} needs a value`);
      i++;
    }
    set(flag, v);
  }
  return new CommandArgs(positional, values);
}
