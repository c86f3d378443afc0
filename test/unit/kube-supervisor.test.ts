// The supervisor's pieces that need no cribd: run records (ids, shape, reading a directory of
// them), the pid-file lock, a run's files parsed with errors naming file and field, and the
// systemd unit operators install (this machine has no systemd as PID 1 to start it).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCron, MAX_SAVED_BYTES, MAX_SAVED_JOBS, parseSaved, saveCron } from '../../src/kube/cronjob/saved.js';
import { plannedWorkloads } from '../../src/kube/kinds/table.js';
import { parseManifests } from '../../src/kube/manifest/documents.js';
import { isRunRecord, readRuns, removeRun, runId, withoutSecrets, writeRun } from '../../src/kube/records/runs.js';
import { parsePid, pidFile, releaseLock, stillHeld, takeLock } from '../../src/kube/supervisor/lock.js';
import { parseRunFiles } from '../../src/kube/supervisor/supervisor.js';
import { repoRoot } from '../../src/util/paths.js';

const pod = (name: string, ns = 'default') => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}}
spec: {containers: [{name: c, image: busybox}]}
`;
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'crib-supervisor-'));

describe('run records', () => {
  it('are named by their workloads, in any order and from any file', () => {
    const a = parseManifests(`${pod('a')}---\n${pod('b')}`);
    const b = parseManifests(`${pod('b')}---\n${pod('a')}`);
    assert.equal(runId(a), runId(b));
    assert.match(runId(a), /^[0-9a-f]{16}$/);
    assert.notEqual(runId(a), runId(parseManifests(pod('a'))));
    assert.notEqual(runId(parseManifests(pod('a'))), runId(parseManifests(pod('a', 'other'))), 'the namespace counts');
  });

  it('name a CronJob by its own name: one CronJob is not another, nor a Job of its name', () => {
    const cron = (name: string) => `apiVersion: batch/v1
kind: CronJob
metadata: {name: ${name}}
spec:
  schedule: "*/1 * * * *"
  jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}}
`;
    const job = `apiVersion: batch/v1
kind: Job
metadata: {name: tick}
spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}
`;
    const id = (text: string) => {
      const m = parseManifests(text);
      return runId(m, plannedWorkloads(m));
    };
    assert.notEqual(id(cron('tick')), id(cron('tock')));
    assert.notEqual(id(cron('tick')), id(job));
    assert.notEqual(id(cron('tick')), runId(parseManifests('')), 'not the empty run');
  });

  it('are written whole, read back, and a malformed or misnamed file is skipped', async () => {
    const root = tmp();
    try {
      const r = { id: 'aaaaaaaaaaaaaaaa', files: [{ name: 'x.yaml', text: pod('x') }], backoffMs: 10_000 };
      await writeRun(root, r);
      const dir = path.join(root, 'kube', 'runs');
      fs.writeFileSync(path.join(dir, 'bbbbbbbbbbbbbbbb.json'), '{"id": "bbbbbbbbbbbbbbbb", "files": "no"}');
      fs.writeFileSync(path.join(dir, 'cccccccccccccccc.json'), JSON.stringify({ ...r, id: 'dddddddddddddddd' }));
      fs.writeFileSync(path.join(dir, 'eeeeeeeeeeeeeeee.json'), '{half');
      assert.deepEqual(await readRuns(root), [{ ...r, files: [{ name: 'x.yaml', text: withoutSecrets(pod('x')) }] }]);
      assert.equal(await removeRun(root, r.id), true);
      assert.equal(await removeRun(root, r.id), false, 'removing twice is no error');
      assert.equal(await removeRun(root, '../../etc/passwd'), false, 'an id is never a path');
      assert.deepEqual(await readRuns(root), []);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('keep no Secret: its documents and List items are dropped, the rest reads the same', () => {
    const text = `${pod('a')}---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: s3cret}\n---\napiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: Secret, metadata: {name: t}, data: {k: czNjcmV0}}\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: c}, data: {mode: '0644'}}\n`;
    const kept = withoutSecrets(text);
    assert.ok(!kept.includes('s3cret') && !kept.includes('czNjcmV0'), kept);
    const m = parseManifests(kept);
    assert.deepEqual([...m.objects.keys()], ['ConfigMap/default/c']);
    assert.deepEqual(m.workloads, parseManifests(pod('a')).workloads);
  });

  it('have a shape', () => {
    assert.equal(isRunRecord({ id: 'aaaaaaaaaaaaaaaa', files: [], backoffMs: 1 }), true);
    for (const bad of [
      null,
      'x',
      { id: '../x', files: [], backoffMs: 1 },
      { id: 'aaaaaaaaaaaaaaaa', files: [{ name: 1, text: '' }], backoffMs: 1 },
      { id: 'aaaaaaaaaaaaaaaa', files: [] },
    ])
      assert.equal(isRunRecord(bad), false, JSON.stringify(bad));
  });

  it('parsed again, an error names the file, the document and the field', () => {
    assert.throws(
      () => parseRunFiles([{ name: '/m/web.yaml', text: `${pod('a')}---\n${pod('b').replace('name: c', 'name: C_')}` }]),
      (e: Error) => /^\/m\/web\.yaml: document 2: spec\.containers\[0\]\.name: /.test(e.message),
    );
  });
});

describe('the supervisor lock', () => {
  it('reads a pid file', () => {
    assert.equal(parsePid('123\n'), 123);
    for (const bad of ['', 'x', '1', '-5', '1.5', String(2 ** 22)]) assert.equal(parsePid(bad), undefined, bad);
  });

  it('is taken over from a process that is gone, held, and released', async () => {
    const root = tmp();
    try {
      fs.mkdirSync(path.dirname(pidFile(root)), { recursive: true });
      fs.writeFileSync(pidFile(root), '4194303\n'); // no such process
      assert.deepEqual(await takeLock(root), { ok: true });
      assert.equal(await stillHeld(root), true);
      assert.equal(fs.readFileSync(pidFile(root), 'utf8'), `${process.pid}\n`);
      await releaseLock(root);
      assert.equal(fs.existsSync(pidFile(root)), false);
      assert.equal(await stillHeld(root), false, 'a removed pid file is a lost lock');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('contrib/crib-supervise.service', () => {
  const unit = fs.readFileSync(path.join(repoRoot, 'contrib', 'crib-supervise.service'), 'utf8');
  const values = (key: string) => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]);

  it('runs crib supervise on the default manifest directory, after cribd', () => {
    assert.deepEqual(values('ExecStart'), ['/usr/local/bin/crib supervise --manifest-dir /etc/crib/manifests']);
    assert.ok(values('After')[0]?.split(/\s+/).includes('crib.service'));
    assert.deepEqual(values('WantedBy'), ['multi-user.target']);
  });

  it('outlives a cribd restart and is restarted itself', () => {
    assert.deepEqual(values('Requires'), [], 'Requires= would stop it with cribd');
    assert.deepEqual(values('BindsTo'), []);
    assert.deepEqual(values('PartOf'), []);
    assert.deepEqual(values('Wants'), ['crib.service']);
    assert.deepEqual(values('Restart'), ['always']);
  });
});

describe('a CronJob state saved by the supervisor', () => {
  const state = { createdMs: 1_000, lastScheduleMs: 60_000, finished: [{ name: 'tick-1', succeeded: true, startMs: 60_100 }] };

  it('is read back as written, and goes with the run record', async () => {
    const root = tmp();
    try {
      const dir = path.join(root, 'kube', 'runs', 'aaaaaaaaaaaaaaaa');
      await saveCron(dir, 'default', 'tick', state);
      assert.deepEqual(await loadCron(dir, 'default', 'tick'), state);
      assert.equal(await loadCron(dir, 'default', 'tock'), undefined, 'per CronJob');
      await removeRun(root, 'aaaaaaaaaaaaaaaa');
      assert.equal(fs.existsSync(dir), false);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('takes only names of its own Jobs and a whole file of the shape; keeps the newest Jobs', () => {
    const text = (v: unknown) => JSON.stringify(v);
    assert.deepEqual(parseSaved(text(state), 'tick'), state);
    for (const name of ['tock-1', 'tick-', 'tick-1x', 'tick-1/../x', 'tick', 'other']) {
      assert.equal(parseSaved(text({ ...state, finished: [{ name, succeeded: true }] }), 'tick'), undefined, name);
    }
    assert.equal(parseSaved(text(state).slice(0, -2), 'tick'), undefined, 'half-written');
    assert.equal(parseSaved(text({ ...state, createdMs: -1 }), 'tick'), undefined);
    assert.equal(parseSaved(text({ ...state, finished: [{ name: 'tick-1', succeeded: 'yes' }] }), 'tick'), undefined);
    const many = Array.from({ length: MAX_SAVED_JOBS + 5 }, (_, i) => ({ name: `tick-${i}`, succeeded: true }));
    const read = parseSaved(text({ ...state, finished: many }), 'tick');
    assert.equal(read?.finished.length, MAX_SAVED_JOBS);
    assert.equal(read?.finished[0]?.name, 'tick-5', 'the newest kept');
    // The biggest file saveCron writes is read back.
    const longest = Array.from({ length: MAX_SAVED_JOBS }, () => ({
      name: `${'x'.repeat(52)}-${'9'.repeat(15)}`,
      succeeded: false,
      startMs: Number.MAX_SAFE_INTEGER,
    }));
    assert.ok(text({ ...state, finished: longest }).length <= MAX_SAVED_BYTES);
  });

  it('is not read through a link or past its size bound', async () => {
    const root = tmp();
    try {
      const dir = path.join(root, 'state');
      fs.mkdirSync(dir);
      const outside = path.join(root, 'elsewhere.json');
      fs.writeFileSync(outside, JSON.stringify(state));
      fs.symlinkSync(outside, path.join(dir, 'cronjob_default_tick.json'));
      assert.equal(await loadCron(dir, 'default', 'tick'), undefined);
      fs.writeFileSync(
        path.join(dir, 'cronjob_default_big.json'),
        JSON.stringify({ ...state, finished: [{ name: 'big-1', succeeded: true }], pad: 'x'.repeat(MAX_SAVED_BYTES) }),
      );
      assert.equal(await loadCron(dir, 'default', 'big'), undefined);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
