// ListPodSandbox's filter (src/sandbox/filter.ts): id prefix, state and every selector label.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchesFilter } from '../../src/sandbox/filter.js';
import type { Sandbox, SandboxView } from '../../src/sandbox/types.js';

describe('list filter', () => {
  const view = (id: string, state: 'READY' | 'NOTREADY', labels: Record<string, string>): SandboxView => ({
    sandbox: { id, config: { labels } } as unknown as Sandbox,
    state,
    pauseAlive: state === 'READY',
  });
  it('matches id prefix, state and every selector label', () => {
    const v = view('abcdef', 'READY', { app: 'web', tier: 'front' });
    assert.ok(matchesFilter(v, undefined));
    assert.ok(matchesFilter(v, { id: 'abc', state: 'READY', labelSelector: { app: 'web' } }));
    assert.ok(!matchesFilter(v, { id: 'abd' }));
    assert.ok(!matchesFilter(v, { state: 'NOTREADY' }));
    assert.ok(!matchesFilter(v, { labelSelector: { app: 'web', tier: 'back' } }));
  });
});
