// The CLI's pure pieces of kubectl's habits: KIND/NAME words, the container kubectl picks, the pod
// kubectl picks among an object's, --since durations, crictl's JSON names and times, and where
// port-forward listens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseContainer, parseKindWord, pickOwnedPod } from '../../src/cli/address.js';
import { parseCommandArgs } from '../../src/cli/args.js';
import { jsonName } from '../../src/client/grpc/proto-json.js';
import { listenAddresses } from '../../src/cli/interactive.js';
import { parseGoDuration } from '../../src/cli/logs.js';
import { rfc3339Nano } from '../../src/cli/output.js';
import type { Container__Output } from '../../src/cri/generated/runtime/v1/Container.js';
import type { PodSandbox__Output } from '../../src/cri/generated/runtime/v1/PodSandbox.js';

const pod = (annotations: Record<string, string> = {}, state = 0, created = '1'): PodSandbox__Output =>
  ({
    id: `p${created}`,
    metadata: { name: 'web-1', uid: 'u', namespace: 'default', attempt: 0 },
    state,
    created_at: created,
    labels: {},
    annotations,
    runtime_handler: '',
  }) as PodSandbox__Output;
const ctr = (name: string, attempt: number, created: string, type = 'app'): Container__Output =>
  ({
    id: `${name}${attempt}`,
    metadata: { name, attempt },
    created_at: created,
    annotations: { 'io.crib.run.containerType': type },
    labels: {},
  }) as unknown as Container__Output;

test('KIND/NAME: kubectl resource words and short names; anything else is not one', () => {
  assert.deepEqual(parseKindWord('deployment/web'), { kind: 'Deployment', name: 'web' });
  assert.deepEqual(parseKindWord('deploy/web'), { kind: 'Deployment', name: 'web' });
  assert.deepEqual(parseKindWord('Job/migrate'), { kind: 'Job', name: 'migrate' });
  assert.deepEqual(parseKindWord('sts/db'), { kind: 'StatefulSet', name: 'db' });
  assert.deepEqual(parseKindWord('pod/web-0'), { kind: 'Pod', name: 'web-0' });
  assert.equal(parseKindWord('web-0/app'), undefined, 'POD/CONTAINER stays what it was');
  assert.equal(parseKindWord('deployment/'), undefined);
  assert.equal(parseKindWord('deployment/a/b'), undefined);
});

test("the container: -c, else the default-container annotation, else the only one, else the first with kubectl's note", () => {
  const list = [ctr('side', 0, '1'), ctr('web', 0, '2'), ctr('web', 1, '5'), ctr('init', 0, '0', 'init')];
  assert.equal(chooseContainer(pod(), list, 'web').container.id, 'web1', '-c: the newest attempt');
  assert.throws(() => chooseContainer(pod(), list, 'nope'), /container "nope" is not in pod "web-1" \(its containers: side, web\)/);
  assert.deepEqual(chooseContainer(pod({ 'kubectl.kubernetes.io/default-container': 'web' }), list, undefined), { container: list[2] });
  const first = chooseContainer(pod(), list, undefined);
  assert.equal(first.container.id, 'side0');
  assert.equal(first.note, 'Defaulted container "side" out of: side, web');
  assert.deepEqual(chooseContainer(pod(), [ctr('only', 0, '1')], undefined).note, undefined);
  assert.throws(() => chooseContainer(pod(), [], undefined), /has no containers/);
});

test("an object's pod: a ready one before one that is not, then the newest", () => {
  assert.equal(pickOwnedPod([pod({}, 1, '9'), pod({}, 0, '2'), pod({}, 0, '3')])?.id, 'p3');
  assert.equal(pickOwnedPod([]), undefined);
});

test("exec: flags before the command are crib's, from the command on they are its own", () => {
  const spec = { bool: ['stdin', 'tty'], value: ['container'], alias: { i: 'stdin', t: 'tty', c: 'container' }, positionalLimit: 1 };
  const a = parseCommandArgs(['-it', 'web-1', '-c', 'web', '--', 'sh'], spec);
  assert.deepEqual([a.positional, a.get('container'), a.has('tty')], [['web-1', 'sh'], 'web', true]);
  const b = parseCommandArgs(['web-1', 'ls', '-la', '-c'], spec);
  assert.deepEqual([b.positional, b.get('container')], [['web-1', 'ls', '-la', '-c'], undefined]);
});

test("--since: Go's durations", () => {
  assert.equal(parseGoDuration('90s'), 90_000);
  assert.equal(parseGoDuration('1h30m'), 5_400_000);
  assert.equal(parseGoDuration('1.5h'), 5_400_000);
  assert.equal(parseGoDuration('250ms'), 250);
  for (const bad of ['', '5', 'soon', '5x', '1h 2m', '-5s']) assert.throws(() => parseGoDuration(bad), /--since wants a duration/, bad);
});

test("crictl's JSON names and inspect times", () => {
  assert.equal(jsonName('pod_sandbox_id'), 'podSandboxId');
  assert.equal(jsonName('uidMappings'), 'uidMappings');
  assert.equal(jsonName('Avg10'), 'Avg10');
  assert.equal(jsonName('runtime_api_version'), 'runtimeApiVersion');
  assert.equal(rfc3339Nano('1796634970517000000'), '2026-12-07T09:16:10.517Z');
  assert.equal(rfc3339Nano('1796634970755810482'), '2026-12-07T09:16:10.755810482Z');
  assert.equal(rfc3339Nano('1796634970000000000'), '2026-12-07T09:16:10Z');
  assert.equal(rfc3339Nano('0'), '0001-01-01T00:00:00Z');
});

test('port-forward listens on both loopbacks for localhost, as kubectl', () => {
  assert.deepEqual(listenAddresses([]), ['127.0.0.1', '::1']);
  assert.deepEqual(listenAddresses(['localhost,10.0.0.1']), ['127.0.0.1', '::1', '10.0.0.1']);
  assert.throws(() => listenAddresses(['example.com']), /--address wants localhost or IP addresses/);
});
