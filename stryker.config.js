// Mutation testing (StrykerJS) of the modules whose rules protect the node or the user, against the
// unit tier: `npm run test:mutation [SUITE...]` (scripts/test-mutation.sh) runs each suite below on
// its own, with the unit test files that exercise it (node:test writes TAP; the tap runner reads
// it). Scores and the surviving mutants with reasons: test/README.md ("Mutation testing").
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

const suites = {
  'request-validation': {
    mutate: ['src/container/validate.ts', 'src/sandbox/validate.ts', 'src/util/validate.ts'],
    tests: ['container-config', 'sandbox-config', 'request-rules'],
  },
  // The pure tests only (listenUnix over a real server: serve-unix*.test.ts), fastest first: a
  // mutant's run stops at the first file that fails. A pure file runs in about a second, so a
  // mutant that loops forever is known after a few.
  'h2-bounds': {
    mutate: ['src/socket/h2/hpack.ts', 'src/socket/h2/authority-rewriter.ts'],
    tests: ['hpack-rfc', 'h2-limits', 'h2-rewriter-frames', 'h2-authority'],
    timeoutMS: 5_000,
  },
  'streaming-tokens': {
    mutate: ['src/streaming/request-cache.ts', 'src/streaming/server.ts'],
    tests: ['streaming-pieces', 'streaming-server', 'streaming-websocket', 'streaming-spdy'],
  },
  // The reader, and the rule that keeps an entry's path inside its layer (layerRelativePath).
  'tar-paths': { mutate: ['src/image/layer/tar-reader.ts', 'src/image/unpack.ts:161-174'], tests: ['tar-reader'] },
  'image-reference': { mutate: ['src/image/reference.ts'], tests: ['image-reference'] },
  // Each module's own test file, which imports little else (a mutant runs only the files that reach
  // it: pod-spec's resources reach quantity.ts too).
  'run-parsing': {
    mutate: ['src/kube/manifest/pod-spec.ts', 'src/kube/controllers/job-state.ts', 'src/kube/quantity/quantity.ts'],
    tests: ['quantity', 'job-state', 'kube-job-observed', 'pod-spec'],
  },
  'cronjob-controller': { mutate: ['src/kube/cronjob/schedule.ts', 'src/kube/cronjob/controller.ts', 'src/kube/cronjob/history.ts'], tests: ['cronjob'] },
  'spec-builders': {
    mutate: ['src/container/spec/capabilities.ts', 'src/container/spec/seccomp-default.ts', 'src/container/spec/users.ts'],
    tests: ['container-spec', 'cri-newer-features', 'spec-users', 'spec-seccomp', 'spec-capabilities'],
  },
  'pod-coordinator': { mutate: ['src/pod/service.ts'], tests: ['pod-service'] },
};

const name = process.env.STRYKER_SUITE ?? '';
const suite = suites[name];
if (!suite) throw new Error(`STRYKER_SUITE must name one of: ${Object.keys(suites).join(', ')}`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'tap',
  plugins: ['@stryker-mutator/tap-runner'],
  mutate: suite.mutate,
  // The tests run the compiled output: the sandbox builds it with the mutants switched in (the
  // checkout's TypeScript; the sandbox's node_modules link comes after the build).
  buildCommand: `node ${fileURLToPath(new URL('node_modules/typescript/bin/tsc', import.meta.url))} -p tsconfig.json`,
  tap: { testFiles: suite.tests.map((t) => `dist/test/unit/${t}.test.js`) },
  coverageAnalysis: 'perTest',
  // 2 cores shared with the rest of the work: one test process at a time.
  concurrency: 1,
  // Over the test's own time (x1.5): a mutant that loops forever costs this much, so it is short.
  timeoutMS: suite.timeoutMS ?? 10_000,
  incremental: true,
  incrementalFile: `.cache/stryker/${name}.incremental.json`,
  ignorePatterns: ['dist/src', 'dist/bench', 'dist/support', 'build', '.cache', 'bench', 'reports'],
  reporters: ['clear-text', 'json', 'progress-append-only'],
  jsonReporter: { fileName: `.cache/stryker/${name}.json` },
  tempDirName: `.cache/stryker-tmp-${name}`,
  cleanTempDir: true,
};
