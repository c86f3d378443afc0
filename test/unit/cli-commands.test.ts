// The CLI finds a command by its words before loading its module: the table's words must be the
// command's own name and aliases, or a command would be unreachable or print another's usage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandTable } from '../../src/cli/main.js';

test('the command table names each command by its own name and aliases, once', async () => {
  const seen = new Set<string>();
  for (const entry of commandTable) {
    const cmd = await entry.load();
    assert.deepEqual(entry.words, [cmd.name, ...(cmd.aliases ?? [])], cmd.name);
    for (const w of entry.words) {
      assert.ok(!seen.has(w), `"${w}" names two commands`);
      seen.add(w);
    }
  }
});

test('crib daemon --help describes every daemon flag, with its default', async () => {
  const { daemonFlags } = await import('../../src/config.js');
  const { daemonFlagHelp, daemonHelp } = await import('../../src/cli/daemon-command.js');
  assert.deepEqual(Object.keys(daemonFlagHelp).sort(), Object.keys(daemonFlags).sort());
  const help = daemonHelp();
  for (const name of Object.keys(daemonFlags)) assert.match(help, new RegExp(`^      --${name} \\S+ +\\S.*$`, 'm'), name);
  assert.match(help, /--subnet CIDR .*\(default 10\.85\.0\.0\/16\)/);
  assert.match(help, /^Examples:$/m);
});

test('every command explains each flag it takes, and the daily ones carry examples', async () => {
  const { commandUsage } = await import('../../src/cli/command.js');
  const daily = new Set(['pods', 'ps', 'logs', 'exec', 'attach', 'port-forward', 'images', 'pull', 'inspect', 'stop', 'rm']);
  const problems: string[] = [];
  for (const entry of commandTable) {
    const cmd = await entry.load();
    if (!('flags' in cmd)) continue; // crib run, down, generate: their own parser and help (test/unit/kube-run.test.ts)
    const text = commandUsage(cmd);
    const f = cmd.flags;
    const short = Object.fromEntries(Object.entries(f.alias ?? {}).map(([s, l]) => [l, s]));
    for (const flag of [...(f.bool ?? []), ...(f.value ?? []), ...(f.multi ?? [])]) {
      const letter = short[flag];
      const line = new RegExp(`^ {2}(-${letter ?? 'X'}, |    )--${flag}\\b.*\\S`, 'm');
      if (!line.test(text)) problems.push(`crib ${cmd.name}: --${flag}${letter ? ` (-${letter})` : ''} is not described`);
    }
    if (daily.has(cmd.name) && !/\nExamples:\n {2}crib /.test(text)) problems.push(`crib ${cmd.name} has no Examples section`);
  }
  assert.deepEqual(problems, []);
});
