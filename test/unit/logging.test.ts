// Log lines: the fields of the CRI call they belong to, errors with their cause chain, both formats.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatLine, lineFields } from '../../src/util/log.js';
import { newContext, runInContext } from '../../src/util/context.js';
import { CribError } from '../../src/util/errors.js';
import { requestIds } from '../../src/cri/call-context.js';

describe('log lines', () => {
  it("carry the call's method, request id and pod/container ids, including ids learnt midway", () => {
    const ctx = newContext('CreateContainer', new AbortController().signal, requestIds({ pod_sandbox_id: 'p1', config: {} }));
    const fields = runInContext(ctx, () => {
      ctx.ids.container = 'c1';
      return lineFields({ step: 'mount' });
    });
    assert.deepEqual(fields, { method: 'CreateContainer', req: ctx.requestId, pod: 'p1', container: 'c1', step: 'mount' });
    assert.deepEqual(lineFields({ a: 1, skipped: undefined }), { a: 1 }, 'outside a call: only the fields given');
  });

  it('turn an error into its message and the messages of its causes', () => {
    const root = Object.assign(new Error('EACCES: permission denied, open /x'), { code: 'EACCES' });
    const mid = new CribError('FailedPrecondition', 'cannot write the record', { cause: root });
    const top = new CribError('Internal', 'RunPodSandbox rolled back', { cause: mid });
    assert.deepEqual(lineFields({ error: top }), {
      error: 'RunPodSandbox rolled back',
      errorCauses: ['cannot write the record', 'EACCES: permission denied, open /x'],
    });
    const loop = new Error('a');
    (loop as { cause?: unknown }).cause = loop;
    assert.equal((lineFields({ error: loop })['errorCauses'] as string[]).length, 7, 'a cause cycle is cut');
  });

  it('format as text or as one JSON object per line', () => {
    const t = new Date('2026-12-01T10:00:00.000Z');
    const fields = { method: 'Version', n: 2, msg2: 'a "quoted" word' };
    assert.equal(formatLine('text', t, 'info', 'hello', fields), '2026-12-01T10:00:00.000Z info  hello method="Version" n=2 msg2="a \\"quoted\\" word"');
    const line = formatLine('json', t, 'warn', 'hello\nworld', fields);
    assert.ok(!line.includes('\n'), 'one line, whatever the message holds');
    assert.deepEqual(JSON.parse(line), { time: '2026-12-01T10:00:00.000Z', level: 'warn', msg: 'hello\nworld', ...fields });
  });

  it('name only ids a request really carries', () => {
    assert.deepEqual(requestIds({ pod_sandbox_id: '', container_id: 'c' }), { container: 'c' });
    assert.deepEqual(requestIds(null), {});
    assert.deepEqual(requestIds({ container_id: 5 }), {});
  });
});
