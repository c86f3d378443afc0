// Jobs under the node's supervisor (crib run -d), end to end on a real cribd: the supervisor carries
// a detached Job on as the foreground run would (a failed pod replaced after the back-off until
// backoffLimit, completions one after another), counting from the pods' real exits, and crib jobs
// says Failed or Complete only once it is so, also across a cribd restart. A supervisor killed mid-Job (by its pid) and started
// again finds the same pods and counts, makes none twice, and a pod it takes over while an init
// container runs starts its app container only once that init container completed. A CronJob's Job
// running when its supervisor is killed is the next supervisor's to carry on and to replace.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { call } from '../src/client/client.js';
import { lockHolder } from '../src/kube/supervisor/lock.js';
import { cribRunSuite, type BackgroundCli } from './support/crib-cli.js';
import { waitFor } from './support/wait-for.js';

const IMAGE = 'localhost/crib/examples:busybox';

const FAILING = `apiVersion: batch/v1
kind: Job
metadata: {name: flaky}
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers: [{name: try, image: "${IMAGE}", command: [sh, -c, 'sleep 1; exit 3']}]
`;

/** Three completions one at a time; each pod's init container takes 4 s and leaves a file its app container reads. */
const IN_TURN = `apiVersion: batch/v1
kind: Job
metadata: {name: steps}
spec:
  completions: 3
  parallelism: 1
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      volumes: [{name: work, emptyDir: {}}]
      initContainers:
        - {name: prepare, image: "${IMAGE}", command: [sh, -c, 'sleep 4; echo prepared > /work/ready'], volumeMounts: [{name: work, mountPath: /work}]}
      containers:
        - {name: step, image: "${IMAGE}", command: [sh, -c, 'cat /work/ready'], volumeMounts: [{name: work, mountPath: /work}]}
`;

/** A CronJob whose every Job runs a pod that fails every 2 s and is restarted (OnFailure); each Job replaces the one before. */
const CYCLING = `apiVersion: batch/v1
kind: CronJob
metadata: {name: cycle}
spec:
  schedule: "*/1 * * * *"
  concurrencyPolicy: Replace
  jobTemplate:
    spec:
      backoffLimit: 100
      template:
        spec:
          restartPolicy: OnFailure
          terminationGracePeriodSeconds: 1
          containers: [{name: turn, image: "${IMAGE}", command: [sh, -c, 'sleep 2; exit 1']}]
`;

interface JobsJson {
  items: { name: string; status: string; active: number; succeeded: number; failed: number; pods: { name: string; exitCodes: Record<string, number> }[] }[];
}

const ns = (v: string | undefined): bigint => BigInt(v || '0');

describe('crib supervise: Jobs', () => {
  const { h, crib, background, manifest, explain } = cribRunSuite(IMAGE);

  async function startSupervisor(): Promise<BackgroundCli> {
    const dir = path.join(h.base, 'manifests');
    fs.mkdirSync(dir, { recursive: true });
    const s = background(['supervise', '--manifest-dir', dir, '--scan', '300']);
    await waitFor(
      async () => (await lockHolder(h.root)) === s.child.pid,
      () => `the supervisor to take its lock:\n${s.out.stderr}`,
      20_000,
    );
    return s;
  }

  const jobs = async (): Promise<JobsJson> => JSON.parse((await crib(['jobs', '-o', 'json'])).stdout) as JobsJson;
  const sandboxes = async () => (await call(h.runtime, 'ListPodSandbox', {})).items;

  it("replaces a -d Job's failed pods until backoffLimit: 3 pods, then Failed; crib jobs says Running until then", async () => {
    const s = await startSupervisor();
    const file = manifest(FAILING);
    try {
      const r = await crib(['run', '-d', '--backoff', '1s', '-f', file]);
      assert.equal(r.code, 0, explain(r));
      assert.doesNotMatch(r.stderr, /succeeded|failed|pods that fail are not replaced/, explain(r));
      // Every look before the third pod ended: Running, with the failures so far.
      const seen: string[] = [];
      // cribd restarts after the first failure: the count goes on from the pods, none made twice.
      await waitFor(
        () => /Job flaky: pod flaky-\w+ failed; 0 succeeded, 1 failed/.test(s.out.stderr),
        () => `the first failure:\n${s.out.stderr}`,
        30_000,
      );
      await h.stopDaemon();
      await h.start();
      let last: JobsJson = { items: [] };
      await waitFor(
        async () => {
          last = await jobs();
          const j = last.items[0];
          if (j) seen.push(`${j.status} ${j.pods.length} pods, ${j.failed} failed`);
          return j?.status === 'Failed';
        },
        () => `the Job to fail:\n${JSON.stringify(last)}\n${s.out.stderr}`,
        60_000,
      );
      const before = seen.slice(0, -1);
      assert.ok(
        before.every((x) => x.startsWith('Running')),
        `Running before the end:\n${seen.join('\n')}`,
      );
      assert.ok(
        before.some((x) => /pods, [12] failed/.test(x)),
        `seen between failures:\n${seen.join('\n')}`,
      );
      const [j] = last.items;
      assert.deepEqual([j?.status, j?.active, j?.succeeded, j?.failed], ['Failed', 0, 0, 3], JSON.stringify(last));
      assert.deepEqual(
        j?.pods.map((p) => p.exitCodes),
        [{ try: 3 }, { try: 3 }, { try: 3 }],
        'the real exit codes',
      );
      await waitFor(
        () => /Job flaky: failed: BackoffLimitExceeded/.test(s.out.stderr),
        () => `the supervisor to judge it so:\n${s.out.stderr}`,
        10_000,
      );
      assert.equal((await sandboxes()).length, 3, 'no fourth pod');
      assert.equal((await crib(['down', '-f', file])).code, 0);
    } finally {
      // A failed test leaves no pod record behind either (the leak check).
      if ((await sandboxes()).length) await crib(['down', '-f', file]);
    }
  });

  it("a CronJob's Job still running when its supervisor was killed is taken over by the next: restarted, then replaced (Replace) with its pod", async () => {
    let s = await startSupervisor();
    const file = manifest(CYCLING);
    /** The Job's pods on the node, and their containers' newest attempt. */
    const podsOf = async (job: string) => {
      const out: { id: string; attempt: number }[] = [];
      for (const p of (await sandboxes()).filter((x) => x.metadata?.name.startsWith(`${job}-`))) {
        const cs = (await call(h.runtime, 'ListContainers', { filter: { pod_sandbox_id: p.id } })).containers;
        out.push({ id: p.id, attempt: Math.max(-1, ...cs.map((c) => c.metadata?.attempt ?? 0)) });
      }
      return out;
    };
    try {
      const r = await crib(['run', '-d', '--backoff', '1s', '-f', file]);
      assert.equal(r.code, 0, explain(r));
      // The first Job comes at the next minute; its pod's container is restarted once by this supervisor, which is then killed.
      let first = '';
      await waitFor(
        async () => {
          first = /CronJob cycle: starting Job (cycle-\d+)/.exec(s.out.stderr)?.[1] ?? '';
          return first !== '' && ((await podsOf(first))[0]?.attempt ?? 0) >= 1;
        },
        () => `the first Job's pod restarted once:\n${s.out.stderr}`,
        100_000,
      );
      s.child.kill('SIGKILL');
      await s.exited;
      const [kept] = await podsOf(first);
      assert.ok(kept, `${first}'s pod is left running`);

      s = await startSupervisor();
      // Taken over: the new supervisor restarts its container (nobody else would), and counts it as the CronJob's active Job.
      await waitFor(
        async () => ((await podsOf(first))[0]?.attempt ?? 0) > kept.attempt,
        () => `${first}'s container restarted by the new supervisor:\n${s.out.stderr}`,
        30_000,
      );
      assert.match(s.out.stderr, new RegExp(`CronJob cycle: taking over Job ${first}, which an earlier supervisor started`));
      assert.match(s.out.stderr, new RegExp(`Job ${first}: .*taken over with 1 pod: 1 active`));
      // The next minute's Job replaces it: its pod goes, the new Job's pod runs.
      let second = '';
      await waitFor(
        async () => {
          second = /CronJob cycle: starting Job (cycle-\d+)/.exec(s.out.stderr)?.[1] ?? '';
          return second !== '' && (await podsOf(first)).length === 0 && (await podsOf(second)).length === 1;
        },
        async () => `${first} replaced by the next Job:\n${JSON.stringify(await sandboxes())}\n${s.out.stderr}`,
        90_000,
      );
      assert.equal(Number(second.split('-')[1]) - Number(first.split('-')[1]), 1, `the next minute's Job:\n${s.out.stderr}`);
      assert.match(s.out.stderr, new RegExp(`CronJob cycle: replacing Job ${first} \\(concurrencyPolicy Replace\\)`));
      assert.equal((await crib(['down', '-f', file])).code, 0);
    } finally {
      // A failed test leaves no pod record behind either (the leak check).
      if ((await sandboxes()).length) await crib(['down', '-f', file]);
    }
  });

  it("runs a -d Job's completions one after another, across a supervisor killed mid-init: no pod twice, the app after its init container", async () => {
    let s = await startSupervisor();
    const file = manifest(IN_TURN);
    try {
      const r = await crib(['run', '-d', '--backoff', '1s', '-f', file]);
      assert.equal(r.code, 0, explain(r));
      // The second pod's init container runs: the supervisor is killed there.
      await waitFor(
        () => (s.out.stderr.match(/init container "prepare" started/g) ?? []).length >= 1,
        () => `the second pod's init container:\n${s.out.stderr}`,
        30_000,
      );
      s.child.kill('SIGKILL');
      await s.exited;
      const midway = await sandboxes();
      assert.equal(midway.length, 2, `one pod done, one in its init:\n${s.out.stderr}`);
      assert.match((await crib(['jobs'])).stdout, /steps\s+Running\s+1\/3\s+1\s+1\s+0\s/);

      s = await startSupervisor();
      let last: JobsJson = { items: [] };
      await waitFor(
        async () => (last = await jobs()).items[0]?.status === 'Complete',
        () => `the Job to complete:\n${JSON.stringify(last)}\n${s.out.stderr}`,
        60_000,
      );
      assert.match(s.out.stderr, /Job steps: wants 3 completions, 1 at a time, backoffLimit 0; taken over with 2 pods: 1 active, 1 succeeded, 0 failed/);
      assert.match(s.out.stderr, /init container "prepare" taken over while it runs/);
      const [j] = last.items;
      assert.deepEqual([j?.status, j?.active, j?.succeeded, j?.failed, j?.pods.length], ['Complete', 0, 3, 0, 3], JSON.stringify(last));
      const all = await sandboxes();
      assert.equal(all.length, 3, 'no pod made twice');
      assert.ok(
        midway.every((p) => all.some((x) => x.id === p.id)),
        'the pods of the first supervisor are the same',
      );

      // Each pod's app container started after its init container ended, and each pod after the one before it.
      const spans: { init: bigint; start: bigint; end: bigint }[] = [];
      for (const p of all) {
        const cs = (await call(h.runtime, 'ListContainers', { filter: { pod_sandbox_id: p.id } })).containers;
        const st = async (name: string) => {
          const c = cs.find((x) => x.metadata?.name === name);
          return (await call(h.runtime, 'ContainerStatus', { container_id: c?.id ?? '' })).status;
        };
        const [init, step] = [await st('prepare'), await st('step')];
        assert.equal(init?.exit_code, 0);
        assert.equal(step?.exit_code, 0);
        assert.ok(ns(step?.started_at) >= ns(init?.finished_at), `the app container of ${p.metadata?.name} started after its init container ended`);
        spans.push({ init: ns(init?.started_at), start: ns(step?.started_at), end: ns(step?.finished_at) });
      }
      spans.sort((a, b) => (a.init < b.init ? -1 : 1));
      for (let i = 1; i < spans.length; i++) assert.ok((spans[i]?.init ?? 0n) >= (spans[i - 1]?.end ?? 0n), 'one pod at a time');
      const logs = await crib(['logs', 'job/steps']);
      assert.match(logs.stdout, /prepared/, "the app container read its init container's file");
      assert.equal((await crib(['down', '-f', file])).code, 0);
    } finally {
      // A failed test leaves no pod record behind either (the leak check).
      if ((await sandboxes()).length) await crib(['down', '-f', file]);
    }
  });
});
