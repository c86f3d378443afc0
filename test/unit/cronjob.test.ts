// The CronJob controller, pure and on a fake clock: schedules read as Kubernetes reads them
// (robfig/cron's fields, macros and day-of-month/day-of-week rule; IANA zones, DST), the turn's
// decision (due, too late, already done, Forbid, Replace, suspend, missed starts counted to 100),
// Job names, the history limits, and the CronJob document as the API server reads it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cronJobName, cronTurn, MAX_MISSED_STARTS, mostRecentStart, type CronPolicy, type CronState } from '../../src/kube/cronjob/controller.js';
import { DEFAULT_HISTORY_LIMITS, jobsToPrune } from '../../src/kube/cronjob/history.js';
import { jobsLeftRunning } from '../../src/kube/cronjob/left-running.js';
import { checkTimeZone, MAX_SCHEDULE_LENGTH, parseSchedule, ScheduleError, type Schedule } from '../../src/kube/cronjob/schedule.js';
import type { CronJob } from '../../src/kube/cronjob/spec.js';
import { itemsOf } from '../../src/kube/kinds/kind.js';
import { plannedWorkloads } from '../../src/kube/kinds/table.js';
import { parseManifests } from '../../src/kube/manifest/documents.js';
import { ManifestError } from '../../src/kube/manifest/pod-spec.js';
import { makePod } from '../../src/kube/plan/plan.js';
import { podSandboxConfig } from '../../src/kube/pod/convert.js';
import { LABEL_OWNER_CRONJOB, LABEL_OWNER_KIND, LABEL_OWNER_NAME } from '../../src/kube/records/keys.js';

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());
const MIN = 60_000;

/** The next `n` times after `from`. */
function runs(s: Schedule, from: string, n: number): string[] {
  const out: string[] = [];
  let t = at(from);
  for (let i = 0; i < n; i++) {
    const next = s.next(t);
    if (next === undefined) break;
    out.push(iso(next) as string);
    t = next;
  }
  return out;
}

describe('cronjob schedule', () => {
  it('reads five fields and every macro robfig/cron knows', () => {
    assert.deepEqual(runs(parseSchedule('*/15 * * * *', 'UTC'), '2026-01-01T00:07:00Z', 2), ['2026-01-01T00:15:00.000Z', '2026-01-01T00:30:00.000Z']);
    const macros: Record<string, string> = {
      '@hourly': '2026-01-01T01:00:00.000Z',
      '@daily': '2026-01-02T00:00:00.000Z',
      '@midnight': '2026-01-02T00:00:00.000Z',
      '@weekly': '2026-01-04T00:00:00.000Z', // a Sunday
      '@monthly': '2026-02-01T00:00:00.000Z',
      '@yearly': '2027-01-01T00:00:00.000Z',
      '@annually': '2027-01-01T00:00:00.000Z',
    };
    for (const [m, first] of Object.entries(macros)) assert.deepEqual(runs(parseSchedule(m, 'UTC'), '2026-01-01T00:10:00Z', 1), [first], m);
  });

  it('matches a day by day-of-month OR day-of-week unless one of them is a star, as robfig/cron does', () => {
    // 2026-01-02 and 01-09 are Fridays.
    assert.deepEqual(runs(parseSchedule('0 0 13 * 5', 'UTC'), '2026-01-01T00:00:00Z', 3), [
      '2026-01-02T00:00:00.000Z',
      '2026-01-09T00:00:00.000Z',
      '2026-01-13T00:00:00.000Z',
    ]);
    // A star (also `?`, `*/1`, a list holding `*`): only the other field counts.
    for (const dom of ['*', '?', '*/1', '*,3']) {
      assert.deepEqual(runs(parseSchedule(`0 0 ${dom} * 5`, 'UTC'), '2026-01-01T00:00:00Z', 2), ['2026-01-02T00:00:00.000Z', '2026-01-09T00:00:00.000Z'], dom);
    }
    assert.deepEqual(runs(parseSchedule('0 0 13 * */1', 'UTC'), '2026-01-01T00:00:00Z', 2), ['2026-01-13T00:00:00.000Z', '2026-02-13T00:00:00.000Z']);
    // A step above 1 is no star for robfig: OR again (the 13th, or Sundays, Tuesdays, Thursdays, Saturdays).
    assert.deepEqual(runs(parseSchedule('0 0 13 * */2', 'UTC'), '2026-01-01T00:00:00Z', 2), ['2026-01-03T00:00:00.000Z', '2026-01-04T00:00:00.000Z']);
  });

  it('runs in its time zone, through DST changes', () => {
    // 02:00 in New York is 07:00 UTC in winter, 06:00 in summer.
    const ny = parseSchedule('0 2 * * *', 'America/New_York');
    assert.deepEqual(runs(ny, '2026-03-06T12:00:00Z', 1), ['2026-03-07T07:00:00.000Z']);
    assert.deepEqual(runs(ny, '2026-03-09T12:00:00Z', 1), ['2026-03-10T06:00:00.000Z']);
    // 01:30 happens twice on 2026-11-01 (fall back): one run.
    const twice = parseSchedule('30 1 * * *', 'America/New_York');
    assert.deepEqual(runs(twice, '2026-10-31T12:00:00Z', 2), ['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']);
    // Every 30 minutes goes on in real time through the repeated hour.
    assert.deepEqual(runs(parseSchedule('*/30 * * * *', 'America/New_York'), '2026-11-01T05:10:00Z', 3), [
      '2026-11-01T05:30:00.000Z',
      '2026-11-01T06:00:00.000Z',
      '2026-11-01T06:30:00.000Z',
    ]);
    // The zone is the schedule's, not the machine's: 09:00 in Tokyo is midnight UTC.
    assert.deepEqual(runs(parseSchedule('0 9 * * *', 'Asia/Tokyo'), '2026-01-01T01:00:00Z', 1), ['2026-01-02T00:00:00.000Z']);
    assert.equal(parseSchedule('0 9 * * *', 'Asia/Tokyo').latest(at('2026-01-02T00:00:00Z')), at('2026-01-02T00:00:00Z'));
  });

  it('splits fields on any run of white space, as strings.Fields does', () => {
    for (const s of ['0  9 * * *', ' 0 9 * * * ', '0\t9 * *\n*'])
      assert.deepEqual(runs(parseSchedule(s, 'UTC'), '2026-01-01T00:00:00Z', 1), ['2026-01-01T09:00:00.000Z'], JSON.stringify(s));
  });

  it("takes a number's + sign, as Go's Atoi does, and nothing else written with +", () => {
    // croner would read a day-of-week `+5` as "and on the 13th"; robfig/cron reads 5: the 13th OR Fridays.
    assert.deepEqual(runs(parseSchedule('0 0 13 * +5', 'UTC'), '2026-01-01T00:00:00Z', 3), [
      '2026-01-02T00:00:00.000Z',
      '2026-01-09T00:00:00.000Z',
      '2026-01-13T00:00:00.000Z',
    ]);
    assert.deepEqual(runs(parseSchedule('+0 +9-+10/+1 * * *', 'UTC'), '2026-01-01T00:00:00Z', 2), ['2026-01-01T09:00:00.000Z', '2026-01-01T10:00:00.000Z']);
    for (const s of ['0 0 * * +mon', '0 0 * * +', '1+2 * * * *', '0 0 * * 1,+*'])
      assert.throws(
        () => parseSchedule(s, 'UTC'),
        (e: Error) => e instanceof ScheduleError && e.message.startsWith('failed to parse int from "'),
        s,
      );
  });

  it("says what croner found wrong, after the schedule, without croner's class name", () => {
    assert.throws(
      () => parseSchedule('60 * * * *', 'UTC'),
      (e: Error) => e instanceof ScheduleError && e.message === '"60 * * * *": Invalid value for minute: 60',
    );
  });

  it('refuses what the API server refuses, saying why', () => {
    const refused: Record<string, RegExp> = {
      '': /required/,
      '* * * *': /expected exactly 5 fields .* found 4/,
      '0 * * * * *': /expected exactly 5 fields .* found 6/,
      '60 * * * *': /minute: 60/,
      '5-2 * * * *': /5-2/,
      '@every 5m': /@every intervals are not supported/,
      '@fortnightly': /unrecognized descriptor "@fortnightly" \(one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly\)$/,
      'TZ=UTC 0 0 * * *': /cannot use TZ or CRON_TZ in schedule, use timeZone field instead/,
      'CRON_TZ=UTC 0 0 * * *': /cannot use TZ or CRON_TZ in schedule/,
      'x * * * *': /x/,
      // robfig/cron reads a descriptor only from the very start, as written, and fields with strings.Fields.
      ' @daily': /expected exactly 5 fields .* found 1/,
      '@daily ': /unrecognized descriptor "@daily "/,
      '@every': /unrecognized descriptor "@every"/,
      '  \t': /expected exactly 5 fields .* found 0/,
      // A part is a number, a range or a star, each with an optional step: `1*` is none of them.
      '0 0 1* * *': /1\*/,
      '0 0 * * 1*': /1\*/,
    };
    for (const [s, why] of Object.entries(refused))
      assert.throws(
        () => parseSchedule(s, 'UTC'),
        (e: Error) => e instanceof ScheduleError && why.test(e.message),
        s,
      );
    // Bounded before any parsing: a schedule of the bound plus one is refused for its length.
    const long = `0 0 * * ${'1,'.repeat(MAX_SCHEDULE_LENGTH)}1`;
    assert.throws(() => parseSchedule(long, 'UTC'), /must be at most 1024 characters/);
  });

  it('takes IANA zone names only, as the API server does', () => {
    for (const tz of ['UTC', 'Etc/GMT+5', 'America/Argentina/Buenos_Aires', 'US/Eastern']) assert.doesNotThrow(() => checkTimeZone(tz), tz);
    const refused: Record<string, RegExp> = {
      '': /non-empty/,
      Local: /explicit time zone/,
      local: /explicit time zone/,
      'Mars/Olympus': /unknown time zone Mars\/Olympus/,
      '../etc/passwd': /unknown time zone/,
      'America/-New_York': /unknown time zone/,
      '+05:00': /unknown time zone/,
      'America/Buenos_Aires_Argentina': /unknown time zone/, // a part longer than 14 characters
      'america/new_york': /did you mean America\/New_York/,
      // ICU still knows this one (America/Regina), but its second part is longer than the 14
      // characters the API server allows a part (the tz database's own rule for its names).
      'Canada/East-Saskatchewan': /unknown time zone Canada\/East-Saskatchewan/,
    };
    for (const [tz, why] of Object.entries(refused))
      assert.throws(
        () => checkTimeZone(tz),
        (e: Error) => e instanceof ScheduleError && why.test(e.message),
        tz,
      );
    assert.throws(() => parseSchedule('0 0 * * *', 'Mars/Olympus'), /unknown time zone/);
  });
});

describe('cronjob controller turn', () => {
  const every = parseSchedule('*/1 * * * *', 'UTC');
  const allow: CronPolicy = { concurrencyPolicy: 'Allow', suspend: false };
  const created = at('2026-01-01T00:00:30Z');

  it('names Jobs NAME-<minutes since the epoch> of their scheduled time', () => {
    assert.equal(cronJobName('tick', at('2026-01-01T00:01:00Z')), `tick-${at('2026-01-01T00:01:00Z') / MIN}`);
    assert.equal(cronJobName('hello', 1_700_000_040_000), 'hello-28333334');
  });

  it('starts the first Job at the first scheduled time after the creation, and each one once', () => {
    const state: CronState = { createdMs: created, active: [] };
    assert.deepEqual(cronTurn('tick', every, allow, state, at('2026-01-01T00:00:59Z')), { kind: 'idle', nextMs: at('2026-01-01T00:01:00Z') });
    const t = cronTurn('tick', every, allow, state, at('2026-01-01T00:01:00.200Z'));
    assert.equal(t.kind, 'start');
    assert.ok(t.kind === 'start');
    assert.equal(t.scheduledMs, at('2026-01-01T00:01:00Z'));
    assert.equal(t.jobName, cronJobName('tick', t.scheduledMs));
    assert.deepEqual(t.replace, []);
    assert.equal(t.nextMs, at('2026-01-01T00:02:00Z'));
    // The caller records it: the same time is not started again.
    state.lastScheduleMs = t.scheduledMs;
    state.active.push(t.jobName);
    assert.equal(cronTurn('tick', every, allow, state, at('2026-01-01T00:01:30Z')).kind, 'idle');
    // Allow: the next one starts while the first still runs.
    const second = cronTurn('tick', every, allow, state, at('2026-01-01T00:02:00Z'));
    assert.ok(second.kind === 'start');
    assert.equal(second.jobName, cronJobName('tick', at('2026-01-01T00:02:00Z')));
    assert.deepEqual(second.replace, [], 'Allow deletes no running Job');
  });

  it('before the first scheduled time there is no start, and none counted', () => {
    assert.deepEqual(mostRecentStart(every, { createdMs: created, active: [] }, {}, at('2026-01-01T00:00:59Z')), { count: 0, tooMany: false });
  });

  it('Forbid holds a start back while a Job runs and makes it once none does, if still in time', () => {
    const forbid: CronPolicy = { concurrencyPolicy: 'Forbid', suspend: false };
    const state: CronState = { createdMs: created, lastScheduleMs: at('2026-01-01T00:01:00Z'), active: ['tick-a'] };
    const held = cronTurn('tick', every, forbid, state, at('2026-01-01T00:02:00Z'));
    assert.deepEqual(held, { kind: 'forbidden', scheduledMs: at('2026-01-01T00:02:00Z'), active: ['tick-a'], nextMs: at('2026-01-01T00:03:00Z') });
    state.active = [];
    const late = cronTurn('tick', every, forbid, state, at('2026-01-01T00:02:40Z'));
    assert.ok(late.kind === 'start');
    assert.equal(late.scheduledMs, at('2026-01-01T00:02:00Z'));
  });

  it('Replace deletes the running Jobs before it starts the next', () => {
    const replace: CronPolicy = { concurrencyPolicy: 'Replace', suspend: false };
    const state: CronState = { createdMs: created, lastScheduleMs: at('2026-01-01T00:01:00Z'), active: ['tick-a', 'tick-b'] };
    const t = cronTurn('tick', every, replace, state, at('2026-01-01T00:02:00Z'));
    assert.ok(t.kind === 'start');
    assert.deepEqual(t.replace, ['tick-a', 'tick-b']);
  });

  it('suspend makes no start', () => {
    assert.deepEqual(cronTurn('tick', every, { ...allow, suspend: true }, { createdMs: created, active: [] }, at('2026-01-01T00:05:00Z')), {
      kind: 'suspended',
    });
  });

  it('startingDeadlineSeconds: a start later than the deadline is missed, one within it is made', () => {
    const policy: CronPolicy = { ...allow, startingDeadlineSeconds: 10 };
    const state: CronState = { createdMs: created, active: [] };
    assert.equal(cronTurn('tick', every, policy, state, at('2026-01-01T00:01:09Z')).kind, 'start');
    const missed = cronTurn('tick', every, policy, state, at('2026-01-01T00:01:11Z'));
    assert.deepEqual(missed, { kind: 'missed', scheduledMs: at('2026-01-01T00:01:00Z'), nextMs: at('2026-01-01T00:02:00Z') });
    // A later start is not missed for an earlier one.
    assert.equal(cronTurn('tick', every, policy, state, at('2026-01-01T00:02:05Z')).kind, 'start');
    // At exactly the deadline: the window starts after now - deadline (Next(schedulingDeadline)), so
    // 00:01:00 is not started, yet not too late either (scheduled + deadline is not before now).
    assert.deepEqual(cronTurn('tick', every, policy, state, at('2026-01-01T00:01:10Z')), { kind: 'idle', nextMs: at('2026-01-01T00:02:00Z') });
  });

  it('startingDeadlineSeconds: a start that was made is not reported missed afterwards', () => {
    const policy: CronPolicy = { ...allow, startingDeadlineSeconds: 10 };
    const state: CronState = { createdMs: created, lastScheduleMs: at('2026-01-01T00:01:00Z'), active: [] };
    assert.deepEqual(cronTurn('tick', every, policy, state, at('2026-01-01T00:01:30Z')), { kind: 'idle', nextMs: at('2026-01-01T00:02:00Z') });
  });

  it('counts missed starts up to 100 and then starts only the latest, warning (TooManyMissedTimes)', () => {
    const state: CronState = { createdMs: created, active: [] };
    const few = cronTurn('tick', every, allow, state, at('2026-01-01T00:05:10Z'));
    assert.ok(few.kind === 'start');
    assert.deepEqual([few.scheduledMs, few.missed, few.tooManyMissed], [at('2026-01-01T00:05:00Z'), 5, false]);
    const hundred = mostRecentStart(every, state, {}, created + 30_000 + 99 * MIN);
    assert.deepEqual([hundred.count, hundred.tooMany], [100, false]);
    // A day behind: 1440 missed, counted to 101, and the start is the latest, not the first.
    const day = cronTurn('tick', every, allow, state, at('2026-01-02T00:00:10Z'));
    assert.ok(day.kind === 'start');
    assert.deepEqual([iso(day.scheduledMs), day.missed, day.tooManyMissed], ['2026-01-02T00:00:00.000Z', MAX_MISSED_STARTS + 1, true]);
    // startingDeadlineSeconds narrows what is counted.
    const narrow = cronTurn('tick', every, { ...allow, startingDeadlineSeconds: 200 }, state, at('2026-01-02T00:00:10Z'));
    assert.ok(narrow.kind === 'start');
    assert.deepEqual([narrow.missed, narrow.tooManyMissed], [4, false]);
  });

  it('bounds the work on a clock decades ahead: the steps do not grow with the gap', () => {
    let steps = 0;
    const counting: Schedule = { ...every, next: (ms) => (steps++, every.next(ms)), latest: (ms) => every.latest(ms) };
    const t = cronTurn('tick', counting, allow, { createdMs: created, active: [] }, at('2056-01-01T00:00:00Z'));
    assert.ok(t.kind === 'start' && t.tooManyMissed);
    assert.equal(t.scheduledMs, at('2056-01-01T00:00:00Z'));
    assert.ok(steps <= MAX_MISSED_STARTS + 3, `${steps} steps`);
  });

  it('a schedule that never comes (February 30th) is idle for ever', () => {
    const never = parseSchedule('0 0 30 2 *', 'UTC');
    assert.deepEqual(cronTurn('x', never, allow, { createdMs: created, active: [] }, at('2027-01-01T00:00:00Z')), { kind: 'idle' });
    assert.equal(never.latest(at('2027-01-01T00:00:00Z')), undefined);
    // With a deadline the turn looks for a lost start too: there is none.
    assert.deepEqual(cronTurn('x', never, { ...allow, startingDeadlineSeconds: 60 }, { createdMs: created, active: [] }, at('2027-01-01T00:00:00Z')), {
      kind: 'idle',
    });
  });

  it('a schedule whose times run out (nothing found after the last) starts its last one', () => {
    // As when croner's search ends (it finds nothing from the year 3000 on): a Schedule of three times.
    const times = [at('2026-01-01T00:01:00Z'), at('2026-01-01T00:02:00Z'), at('2026-01-01T00:03:00Z')];
    const ending: Schedule = { text: '', timeZone: 'UTC', next: (ms) => times.find((t) => t > ms), latest: (ms) => times.filter((t) => t <= ms).pop() };
    const state: CronState = { createdMs: created, lastScheduleMs: at('2026-01-01T00:02:00Z'), active: [] };
    assert.deepEqual(mostRecentStart(ending, state, {}, at('2026-01-02T00:00:00Z')), { time: at('2026-01-01T00:03:00Z'), count: 1, tooMany: false });
  });
});

describe('cronjob history limits', () => {
  const job = (name: string, succeeded: boolean, startMs?: number) => ({ name, succeeded, ...(startMs !== undefined ? { startMs } : {}) });

  it('removes the finished Jobs beyond the limits, oldest first (defaults 3 and 1)', () => {
    const finished = [job('s4', true, 4), job('f2', false, 2), job('s1', true, 1), job('s3', true, 3), job('s6', true, 6), job('f5', false, 5)];
    assert.deepEqual(jobsToPrune(finished, DEFAULT_HISTORY_LIMITS), ['s1', 'f2']);
    assert.deepEqual(jobsToPrune(finished, { successful: 2, failed: 1 }), ['s1', 'f2', 's3']);
    assert.deepEqual(jobsToPrune(finished, { successful: 0, failed: 0 }), ['s1', 'f2', 's3', 's4', 'f5', 's6']);
    assert.deepEqual(jobsToPrune(finished, { successful: 10, failed: 10 }), []);
  });

  it('sorts a Job with no start time last, and equal times by name', () => {
    assert.deepEqual(jobsToPrune([job('b', true), job('z', true, 5), job('a', true, 5)], { successful: 1, failed: 1 }), ['a', 'z']);
    assert.deepEqual(jobsToPrune([job('b', true), job('a', true)], { successful: 1, failed: 1 }), ['a']);
  });

  it('gives the same answer whatever order the Jobs come in (the sort compares them both ways round)', () => {
    // Names against the times' order: byJobStartTime's order is z (1), a and c (5, by name), then b
    // and y (no start, by name). One is kept: y.
    const jobs = [job('z', true, 1), job('c', true, 5), job('a', true, 5), job('y', true), job('b', true)];
    const permutations = (xs: typeof jobs): (typeof jobs)[] =>
      xs.length <= 1 ? [xs] : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest]));
    for (const order of permutations(jobs)) {
      assert.deepEqual(jobsToPrune(order, { successful: 1, failed: 1 }), ['z', 'a', 'c', 'b'], order.map((j) => j.name).join(' '));
    }
  });
});

describe('cronjob Jobs left running by an earlier supervisor', () => {
  const pod = (job: string | undefined, createdMs: number) => ({ job, createdMs });

  it('are its Jobs on the node not among the finished, each once, started at its first pod, oldest first', () => {
    const pods = [pod('tick-29000002', 500), pod('tick-29000001', 300), pod('tick-29000002', 200), pod('tick-29000002', 400), pod('tick-29000000', 100)];
    assert.deepEqual(jobsLeftRunning('tick', pods, [{ name: 'tick-29000000', succeeded: true, startMs: 100 }]), [
      { name: 'tick-29000002', startMs: 200 },
      { name: 'tick-29000001', startMs: 300 },
    ]);
    assert.deepEqual(jobsLeftRunning('tick', [], []), []);
  });

  it("takes only names this CronJob's Jobs have: another CronJob's, a Job's of its own, a pod without the label are left", () => {
    const pods = [pod('tick-2-29000000', 1), pod('tick', 1), pod('tick-x', 1), pod('tick-1234567890123456', 1), pod(undefined, 1), pod('tock-29000000', 1)];
    assert.deepEqual(jobsLeftRunning('tick', pods, []), []);
    assert.deepEqual(jobsLeftRunning('tick-2', pods, []), [{ name: 'tick-2-29000000', startMs: 1 }]);
  });

  it('orders Jobs started at the same time by name', () => {
    assert.deepEqual(
      jobsLeftRunning('t', [pod('t-2', 5), pod('t-1', 5)], []).map((j) => j.name),
      ['t-1', 't-2'],
    );
  });
});

describe('cronjob document', () => {
  const doc = (spec: string, name = 'tick') => `apiVersion: batch/v1
kind: CronJob
metadata: {name: ${name}}
spec:
${spec}
`;
  const template = `  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: c, image: localhost/x:1, command: [echo, tick]}]`;

  it("reads a CronJob with the API server's defaults, its Jobs' template planned for the run's checks", () => {
    const m = parseManifests(doc(`  schedule: "*/1 * * * *"\n${template}`));
    assert.deepEqual(m.workloads, [], 'a CronJob runs no pod by itself');
    const [cj] = itemsOf<CronJob>(m, 'CronJob');
    assert.ok(cj);
    assert.deepEqual(cj.policy, { concurrencyPolicy: 'Allow', suspend: false });
    assert.deepEqual(cj.history, { successful: 3, failed: 1 });
    assert.equal(cj.schedule.timeZone, undefined);
    assert.equal(cj.job.job?.backoffLimit, 6);
    assert.deepEqual(
      plannedWorkloads(m).map((w) => [w.kind, w.name, w.cronJob]),
      [['Job', 'tick', 'tick']],
    );
    assert.deepEqual(m.warnings, []);
    assert.deepEqual(m.ignoredKinds, []);
  });

  it('reads every field it runs', () => {
    const m = parseManifests(
      doc(`  schedule: "0 9 * * 1-5"
  timeZone: Europe/Paris
  concurrencyPolicy: Replace
  startingDeadlineSeconds: 30
  suspend: true
  successfulJobsHistoryLimit: 0
  failedJobsHistoryLimit: 5
${template}`),
    );
    const [cj] = itemsOf<CronJob>(m, 'CronJob');
    assert.ok(cj);
    assert.deepEqual(cj.policy, { concurrencyPolicy: 'Replace', suspend: true, startingDeadlineSeconds: 30 });
    assert.deepEqual(cj.history, { successful: 0, failed: 5 });
    assert.equal(cj.schedule.timeZone, 'Europe/Paris');
  });

  it("labels its Jobs' pods with the CronJob, and the Job as their owner", () => {
    const m = parseManifests(doc(`  schedule: "@hourly"\n${template}`));
    const [w] = plannedWorkloads(m);
    assert.ok(w);
    const pod = makePod({ ...w, name: 'tick-29000000' }, () => 0);
    assert.match(pod.name, /^tick-29000000-[a-z0-9]{5}$/);
    assert.equal(pod.labels['job-name'], 'tick-29000000');
    const labels = podSandboxConfig(pod, { uid: 'u', seccompRoot: '/x' }).labels ?? {};
    assert.deepEqual([labels[LABEL_OWNER_KIND], labels[LABEL_OWNER_NAME], labels[LABEL_OWNER_CRONJOB]], ['Job', 'tick-29000000', 'tick']);
    assert.equal(pod.labels[LABEL_OWNER_CRONJOB], undefined, "not one of the pod's own labels");
  });

  it('refuses bad input naming the document and the field; nothing of it is kept', () => {
    const refused: [string, string, RegExp][] = [
      ['invalid schedule', `  schedule: "61 * * * *"\n${template}`, /^document 2: spec\.schedule: .*minute: 61/],
      ['6 fields', `  schedule: "0 0 * * * *"\n${template}`, /^document 2: spec\.schedule: expected exactly 5 fields/],
      ['no schedule', template, /^document 2: spec\.schedule: required/],
      [
        'unknown policy',
        `  schedule: "@daily"\n  concurrencyPolicy: Sometimes\n${template}`,
        /^document 2: spec\.concurrencyPolicy: "Sometimes" is not one of "Allow", "Forbid", "Replace"/,
      ],
      ['bad time zone', `  schedule: "@daily"\n  timeZone: Mars/Olympus\n${template}`, /^document 2: spec\.timeZone: unknown time zone Mars\/Olympus/],
      ['TZ in schedule', `  schedule: "CRON_TZ=UTC 0 0 * * *"\n${template}`, /^document 2: spec\.schedule: cannot use TZ or CRON_TZ in schedule/],
      [
        'a typo',
        `  schedule: "@daily"\n  concurencyPolicy: Forbid\n${template}`,
        /^document 2: spec\.concurencyPolicy: unknown field \(did you mean concurrencyPolicy\?\)/,
      ],
      ['negative deadline', `  schedule: "@daily"\n  startingDeadlineSeconds: -1\n${template}`, /^document 2: spec\.startingDeadlineSeconds:/],
      ['negative limit', `  schedule: "@daily"\n  failedJobsHistoryLimit: -1\n${template}`, /^document 2: spec\.failedJobsHistoryLimit:/],
      ['no jobTemplate', `  schedule: "@daily"`, /^document 2: spec\.jobTemplate: required/],
      [
        'a selector',
        `  schedule: "@daily"\n${template}\n      selector: {matchLabels: {a: b}}`,
        /^document 2: spec\.jobTemplate\.spec\.selector: `selector` will be auto-generated/,
      ],
      [
        'restartPolicy Always',
        `  schedule: "@daily"\n${template.replace('Never', 'Always')}`,
        /^document 2: spec\.jobTemplate\.spec\.template\.spec\.restartPolicy: Always is not allowed for a Job/,
      ],
    ];
    const cm = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n';
    for (const [what, spec, why] of refused) {
      assert.throws(
        () => parseManifests(cm + doc(spec)),
        (e: Error) => e instanceof ManifestError && why.test(e.message),
        `${what}: ${why}`,
      );
    }
    // The controller appends 11 characters to a name, and a Job's name is at most 63.
    const long = 'x'.repeat(53);
    assert.throws(() => parseManifests(doc(`  schedule: "@daily"\n${template}`, long)), /metadata\.name: must be no more than 52 characters/);
    assert.doesNotThrow(() => parseManifests(doc(`  schedule: "@daily"\n${template}`, 'x'.repeat(52))));
    assert.throws(
      () => parseManifests(doc(`  schedule: "@daily"\n${template}`) + '---\n' + doc(`  schedule: "@daily"\n${template}`)),
      /CronJob default\/tick is defined twice/,
    );
  });
});
