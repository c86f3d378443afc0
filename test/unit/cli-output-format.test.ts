// `-o FORMAT`, parsed once for every command (src/cli/output.ts): the command's first format when
// absent, one it lists, or a usage error that names them.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { outputFormat } from '../../src/cli/output.js';
import { UsageError } from '../../src/client/errors.js';

describe('-o FORMAT', () => {
  it("is the command's first format when absent, and any format it lists", () => {
    assert.equal(outputFormat(undefined, ['table', 'json', 'yaml']), 'table');
    assert.equal(outputFormat(undefined, ['json', 'yaml']), 'json');
    assert.equal(outputFormat('yaml', ['json', 'yaml']), 'yaml');
    assert.equal(outputFormat('wide', ['table', 'wide', 'json', 'yaml']), 'wide');
  });

  it('refuses a format the command does not list, naming those it does', () => {
    // inspect used to print JSON for anything but yaml, -o table included.
    assert.throws(
      () => outputFormat('table', ['json', 'yaml']),
      (e: unknown) => e instanceof UsageError && e.message === '-o wants json or yaml, not "table"',
    );
    assert.throws(() => outputFormat('yaml', ['table', 'json']), /-o wants table or json, not "yaml"/);
    assert.throws(() => outputFormat('', ['text', 'json', 'yaml']), /-o wants text, json or yaml, not ""/);
  });
});
