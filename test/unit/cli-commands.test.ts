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
