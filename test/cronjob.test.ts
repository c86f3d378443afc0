// A CronJob under `crib run` on a real cribd: one test of about two minutes, since the schedule is
// every minute. Its Jobs start at consecutive scheduled minutes and end with their containers' real
// exit codes (crib jobs, with their CronJob); Forbid holds a start back while a Job runs; Replace
// stops and removes the running Job before it starts the next; suspend starts nothing; the history
// limits remove the older finished Job with its pod; Ctrl-C removes everything. The controller's
// other rules are unit-tested on a fake clock (test/unit/cronjob.test.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { call } from '../src/client/client.js';
import { cribRunSuite } from './support/crib-cli.js';
import { waitFor } from './support/wait-for.js';

const IMAGE = 'localhost/crib/examples:busybox';

const cronJob = (name: string, spec: string, command: string) => `apiVersion: batch/v1
kind: CronJob
metadata: {name: ${name}}
spec:
  schedule: "*/1 * * * *"
${spec}
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers: [{name: c, image: "${IMAGE}", command: [sh, -c, '${command}']}]
`;

const MANIFEST = [
  cronJob('tick', '  successfulJobsHistoryLimit: 1', 'echo tick'),
  cronJob('fail', '  failedJobsHistoryLimit: 1', 'echo failing; exit 3'),
  cronJob('hold', '  concurrencyPolicy: Forbid', 'exec sleep 600'),
  cronJob('swap', '  concurrencyPolicy: Replace', 'exec sleep 600'),
  cronJob('idle', '  suspend: true', 'echo never'),
].join('---\n');

interface JobsJson {
  items: { name: string; cronJob?: string; status: string; pods: { exitCodes: Record<string, number> }[] }[];
}

describe('crib run: CronJob', () => {
  const { h, crib, background, manifest } = cribRunSuite(IMAGE);
  const pods = async () => (await call(h.runtime, 'ListPodSandbox', {})).items;

  it('starts Jobs every minute with real results; Forbid holds back, Replace replaces, suspend starts none, history limits prune', async () => {
    const file = manifest(MANIFEST);
    const started = Date.now();
    const run = background(['run', '-f', file]);
    const out = () => `--- stderr\n${run.out.stderr}\n--- cribd\n${h.logTail(15)}`;
    const starts = (cj: string) => [...run.out.stderr.matchAll(new RegExp(`CronJob ${cj}: starting Job (${cj}-(\\d+))`, 'g'))].map((m) => m[1] ?? '');
    const said = (re: RegExp) => re.test(run.out.stderr);

    // The first start is at the first minute after the run began, the second a minute later:
    // both within 2.5 minutes, as `*/1 * * * *` promises.
    await waitFor(
      () => run.child.exitCode !== null || (starts('tick').length >= 2 && starts('fail').length >= 2 && starts('swap').length >= 2),
      () => `two starts of each CronJob\n${out()}`,
      150_000 - (Date.now() - started),
    );
    assert.equal(run.child.exitCode, null, out());
    const [tick1 = '', tick2 = ''] = starts('tick');
    assert.equal(Number(tick2.split('-')[1]) - Number(tick1.split('-')[1]), 1, `NAME-<minutes since the epoch>, a minute apart\n${out()}`);
    assert.deepEqual(
      starts('fail').map((n) => n.split('-')[1]),
      [tick1, tick2].map((n) => n.split('-')[1]),
    );
    // Forbid: the first Job still runs at the second minute, so no second Job.
    assert.equal(starts('hold').length, 1, out());
    assert.ok(said(new RegExp(`CronJob hold: not starting the Job of \\S+: ${starts('hold')[0]} still runs \\(concurrencyPolicy Forbid\\)`)), out());
    const [swap1 = '', swap2 = ''] = starts('swap');
    assert.ok(said(new RegExp(`CronJob swap: replacing Job ${swap1} \\(concurrencyPolicy Replace\\)[^]*CronJob swap: starting Job ${swap2}`)), out());
    assert.ok(said(/CronJob idle: suspended: no Job is started/), out());
    assert.doesNotMatch(run.out.stderr, /CronJob idle: starting/);

    // The second tick and fail Jobs end; each limit of 1 then removes the first.
    await waitFor(
      () => said(new RegExp(`CronJob tick: removing Job ${tick1}\\b`)) && said(new RegExp(`CronJob fail: removing Job ${starts('fail')[0]}\\b`)),
      () => `the history limits to remove the first Jobs\n${out()}`,
      120_000,
    );
    // Removed with their pods: crib jobs no longer lists them.
    let jobs: JobsJson = { items: [] };
    await waitFor(
      async () => {
        jobs = JSON.parse((await crib(['jobs', '-o', 'json'])).stdout) as JobsJson;
        return !jobs.items.some((j) => j.name === tick1 || j.name === starts('fail')[0] || j.name === swap1);
      },
      () => `the removed Jobs to be gone from crib jobs: ${JSON.stringify(jobs)}\n${out()}`,
      30_000,
    );
    const byName = new Map(jobs.items.map((j) => [j.name, j]));
    assert.equal(byName.get(tick2)?.status, 'Complete', JSON.stringify(jobs));
    assert.equal(byName.get(tick2)?.cronJob, 'tick');
    assert.deepEqual(
      byName.get(tick2)?.pods.map((p) => p.exitCodes),
      [{ c: 0 }],
    );
    const fail2 = starts('fail')[1] ?? '';
    assert.equal(byName.get(fail2)?.status, 'Failed', JSON.stringify(jobs));
    assert.deepEqual(
      byName.get(fail2)?.pods.map((p) => p.exitCodes),
      [{ c: 3 }],
      'the real exit code',
    );
    assert.equal(byName.get(starts('hold')[0] ?? '')?.status, 'Running', `${JSON.stringify(jobs)}\n${out()}`);
    assert.equal(byName.get(swap2)?.status, 'Running', `${JSON.stringify(jobs)}\n${out()}`);
    assert.equal(byName.get(swap2)?.cronJob, 'swap');
    assert.ok(!jobs.items.some((j) => j.cronJob === 'idle' || j.name.startsWith('idle-')), JSON.stringify(jobs));
    assert.match((await crib(['jobs'])).stdout, /\bCRONJOB\b/);

    run.child.kill('SIGINT');
    assert.equal(await run.exited, 130, out());
    assert.deepEqual(await pods(), [], 'Ctrl-C removes every Job the CronJobs made');
  });
});
