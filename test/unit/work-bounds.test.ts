// Work per request grows linearly with every list an attacker controls: an image's Env, layers and
// manifests; a request's envs, mounts, labels and annotations; a List call's label selector. Each
// case builds its input as a hostile image or client would, and counts CPU time on n and 8n items
// (test/support/growth.ts), so a quadratic step fails however loaded the machine is.
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { assertLinear } from '../support/growth.js';
import { containerEnv, containerSpec } from '../../src/container/spec/container-spec.js';
import { criServices } from '../../src/cri/proto.js';
import { toContainerConfig } from '../../src/cri/container-convert.js';
import { toSandboxConfig } from '../../src/cri/sandbox-convert.js';
import { validateContainerConfig } from '../../src/container/validate.js';
import { validateSandboxConfig } from '../../src/sandbox/validate.js';
import { matchesContainerFilter } from '../../src/container/filter.js';
import { matchesFilter } from '../../src/sandbox/filter.js';
import { parseImageConfig } from '../../src/image/image-config.js';
import { parseManifestOrIndex, selectPlatform } from '../../src/image/manifest.js';
import type { ContainerConfig } from '../../src/cri/generated/runtime/v1/ContainerConfig.js';
import type { CreateContainerRequest__Output } from '../../src/cri/generated/runtime/v1/CreateContainerRequest.js';
import type { RunPodSandboxRequest__Output } from '../../src/cri/generated/runtime/v1/RunPodSandboxRequest.js';
import type { ContainerView } from '../../src/container/types.js';
import type { SandboxView } from '../../src/sandbox/types.js';
import { CribError } from '../../src/util/errors.js';

/** Runs f; an InvalidArgument from it is an answer like any other. */
const refused = (f: () => unknown): void => {
  try {
    f();
  } catch (e) {
    if (!(e instanceof CribError && e.kind === 'InvalidArgument')) throw e;
  }
};
const list = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
const map = (n: number, prefix: string): Record<string, string> => Object.fromEntries(list(n, (i) => [`${prefix}/${i}`, `v${i}`]));
const digest = (i: number) => `sha256:${createHash('sha256').update(String(i)).digest('hex')}`;

/** What CreateContainer does with a request before anything reaches the node: decode, convert, check, build the spec. */
function createContainer(bytes: Buffer): void {
  const m = criServices().runtime['CreateContainer']!;
  const config = toContainerConfig((m.requestDeserialize(bytes) as CreateContainerRequest__Output).config);
  validateContainerConfig(config);
  containerSpec({
    id: 'c1',
    config,
    image: { Cmd: ['sh'] },
    user: { uid: 0, gid: 0, additionalGids: [] },
    namespaces: {},
    hostname: 'h',
    podFiles: { hostname: '/p/hostname', resolvConf: '/p/resolv.conf', hosts: '/p/hosts' },
    shmPath: '/p/shm',
    cgroupsPath: '/crib/c1',
    oomScoreAdj: 0,
    hostDevices: [],
    arch: 'x64',
  });
}
const createRequest = (c: Partial<ContainerConfig>): Buffer =>
  criServices().runtime['CreateContainer']!.requestSerialize({ pod_sandbox_id: 'p', config: { metadata: { name: 'c' }, image: { image: 'busybox' }, ...c } });

describe('work on untrusted lists is linear', () => {
  it("merges an image's Env of n distinct variables and a request's n envs", () => {
    // The image sets n variables; the request overrides half and sets as many new ones, and the
    // image unsets some of its own by naming them bare (containerd's rule).
    assertLinear(
      'containerEnv',
      (n) => ({
        image: { Env: list(n, (i) => (i % 10 === 9 ? `V${i - 1}` : `V${i}=${i}`)) },
        envs: list(n, (i) => ({ key: `V${i * 2}`, value: 'x' })),
      }),
      (x) => containerEnv({ envs: x.envs, tty: false }, x.image, 'h'),
    );
  });

  it('CreateContainer with n envs, mounts, labels or annotations', () => {
    const kinds: Record<string, (n: number) => Partial<ContainerConfig>> = {
      envs: (n) => ({ envs: list(n, (i) => ({ key: `V${i % (n / 2)}`, value: String(i) })) }),
      mounts: (n) => ({ mounts: list(n, (i) => ({ container_path: `/m/${i % 7}/${i}`, host_path: `/h/${i}` })) }),
      labels: (n) => ({ labels: map(n, 'l') }),
      annotations: (n) => ({ annotations: map(n, 'a') }),
    };
    for (const [what, build] of Object.entries(kinds)) {
      // 8n labels or annotations stay within the 256 KiB crib takes.
      assertLinear(`CreateContainer with n ${what}`, (n) => createRequest(build(n)), createContainer, { max: 1 << 14 });
    }
  });

  it('RunPodSandbox with n labels and annotations', () => {
    const m = criServices().runtime['RunPodSandbox']!;
    assertLinear(
      'RunPodSandbox',
      (n) => m.requestSerialize({ config: { metadata: { name: 'p', namespace: 'd', uid: 'u' }, labels: map(n, 'l'), annotations: map(n, 'a') } }),
      (bytes) => validateSandboxConfig(toSandboxConfig((m.requestDeserialize(bytes) as RunPodSandboxRequest__Output).config, '')),
      { max: 1 << 14 },
    );
  });

  it('ListContainers and ListPodSandbox: n objects against a label selector of n entries', () => {
    // Every object carries the selector's first label, so each is checked past it.
    const build = (n: number) => ({
      labels: list(n, () => ({ app: 'web' })),
      selector: { app: 'web', ...map(n, 'want') },
    });
    assertLinear('ListContainers', build, ({ labels, selector }) => {
      for (const l of labels)
        matchesContainerFilter({ container: { id: 'c', sandboxId: 's', config: { labels: l } }, state: 'RUNNING' } as unknown as ContainerView, {
          labelSelector: selector,
        });
    });
    assertLinear('ListPodSandbox', build, ({ labels, selector }) => {
      for (const l of labels)
        matchesFilter({ sandbox: { id: 's', config: { labels: l } }, state: 'READY' } as unknown as SandboxView, { labelSelector: selector });
    });
  });

  it('an image config of n variables and n layers; a manifest of n layers; an index of n platforms', () => {
    assertLinear(
      'parseImageConfig',
      (n) => Buffer.from(JSON.stringify({ config: { Env: list(n, (i) => `V${i}=${i}`) }, rootfs: { type: 'layers', diff_ids: list(n, digest) } })),
      (b) => parseImageConfig(b, 'config'),
      { max: 1 << 16 },
    );
    const descriptor = (i: number) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest(i), size: i });
    assertLinear(
      'parseManifestOrIndex (manifest)',
      (n) =>
        Buffer.from(
          JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: descriptor(0), layers: list(n, descriptor) }),
        ),
      // More than 500 layers are refused: the refusal is work too.
      (b) => refused(() => parseManifestOrIndex(b)),
    );
    const platform = (i: number) => ({
      ...descriptor(i),
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      platform: { os: 'linux', architecture: `arch${i}` },
    });
    assertLinear(
      'parseManifestOrIndex and selectPlatform (index)',
      (n) =>
        Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: 'application/vnd.oci.image.index.v1+json',
            manifests: [...list(n, platform), { ...platform(0), platform: { os: 'linux', architecture: 'amd64' } }],
          }),
        ),
      (b) => {
        const parsed = parseManifestOrIndex(b);
        if (parsed.kind === 'index') selectPlatform(parsed.index, { os: 'linux', architecture: 'amd64' });
      },
      { max: 1 << 16 },
    );
  });
});
