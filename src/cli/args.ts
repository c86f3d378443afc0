/** A parsed command line: positional words and --flags (--flag value, --flag=value, or boolean). */
export interface ParsedArgs {
  positional: string[];
  flags: Map<string, string>;
}

export function parseArgs(argv: readonly string[], booleanFlags: ReadonlySet<string> = new Set()): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    const m = /^--?([a-zA-Z][\w-]*)(?:=(.*))?$/.exec(a);
    if (!m) {
      positional.push(a);
      continue;
    }
    const name = m[1] as string;
    if (m[2] !== undefined) flags.set(name, m[2]);
    else if (booleanFlags.has(name)) flags.set(name, 'true');
    else {
      const v = argv[i + 1];
      if (v === undefined) throw new Error(`flag --${name} needs a value`);
      flags.set(name, v);
      i++;
    }
  }
  return { positional, flags };
}
