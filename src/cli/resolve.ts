import { call } from '../client/client.js';
import type { ClientContext } from '../client/context.js';
import { CliError } from '../client/errors.js';
import { formatReference, parseReference } from '../image/reference.js';
import type { PodSandbox__Output } from '../cri/generated/runtime/v1/PodSandbox.js';
import type { Container__Output } from '../cri/generated/runtime/v1/Container.js';
import type { Image__Output } from '../cri/generated/runtime/v1/Image.js';

export type Target =
  | { kind: 'pod'; id: string; pod: PodSandbox__Output }
  | { kind: 'container'; id: string; container: Container__Output }
  | {
      kind: 'image';
      id: string;
      image: Image__Output;
      /** What to send to the image calls: the word as typed when it named a tag or digest, else the full id. */ ref: string;
    };

export type Kind = Target['kind'];

interface Candidate {
  target: Target;
  /** Full ids this candidate answers to exactly. */
  ids: string[];
  /** Hex strings a prefix is matched against. */
  prefixOf: string[];
  /** Names (pod name, container name, pod/container, image tags). */
  names: string[];
  label: string;
}

const kindWord: Record<Kind, string> = { pod: 'pod', container: 'container', image: 'image' };

/** Lists what a word could name: pods, containers and/or images. */
async function candidates(ctx: ClientContext, kinds: readonly Kind[]): Promise<Candidate[]> {
  const out: Candidate[] = [];
  const wantPods = kinds.includes('pod') || kinds.includes('container');
  const pods = wantPods ? (await call(ctx.clients.runtime, 'ListPodSandbox', {})).items : [];
  const podName = new Map(pods.map((p) => [p.id, p.metadata?.name ?? '']));
  if (kinds.includes('pod')) {
    for (const p of pods) {
      const name = p.metadata?.name ?? '';
      out.push({
        target: { kind: 'pod', id: p.id, pod: p },
        ids: [p.id],
        prefixOf: [p.id],
        names: name ? [name, `${name}-pause`] : [],
        label: `pod ${p.id.slice(0, 13)} (${name})`,
      });
    }
  }
  if (kinds.includes('container')) {
    for (const c of (await call(ctx.clients.runtime, 'ListContainers', {})).containers) {
      const name = c.metadata?.name ?? '';
      const pod = podName.get(c.pod_sandbox_id) ?? '';
      out.push({
        target: { kind: 'container', id: c.id, container: c },
        ids: [c.id],
        prefixOf: [c.id],
        names: name ? [name, `${pod}/${name}`] : [],
        label: `container ${c.id.slice(0, 13)} (${pod}/${name})`,
      });
    }
  }
  if (kinds.includes('image')) {
    for (const img of (await call(ctx.clients.image, 'ListImages', {})).images) {
      const hex = img.id.replace(/^sha256:/, '');
      out.push({
        target: { kind: 'image', id: img.id, image: img, ref: img.id },
        ids: [img.id, hex],
        prefixOf: [hex],
        names: [...img.repo_tags, ...img.repo_digests],
        label: `image ${hex.slice(0, 13)} (${img.repo_tags[0] ?? '<none>'})`,
      });
    }
  }
  return out;
}

/** The normalized spelling of an image reference (`busybox` → `docker.io/library/busybox:latest`). */
function normalizedRef(word: string): string | undefined {
  try {
    return formatReference(parseReference(word));
  } catch {
    return undefined;
  }
}

function pick(word: string, list: Candidate[], kinds: readonly Kind[]): Target {
  const withRef = (c: Candidate, ref: string): Target => (c.target.kind === 'image' ? { ...c.target, ref } : c.target);
  const unique = (hits: Candidate[], how: string): Target | undefined => {
    if (hits.length === 0) return undefined;
    const distinct = [...new Map(hits.map((h) => [`${h.target.kind}/${h.target.id}`, h])).values()];
    const [only, ...more] = distinct;
    if (only && more.length === 0) return withRef(only, how === 'name' ? word : only.target.id);
    const hint = how === 'name' ? 'use an id (or POD/CONTAINER for a container)' : 'give more of the id';
    throw new CliError(
      `"${word}" is ambiguous, it ${how === 'name' ? 'names' : 'starts the ids of'} ${distinct.length} objects: ${distinct.map((d) => d.label).join(', ')}; ${hint}`,
    );
  };
  const exact = unique(
    list.filter((c) => c.ids.includes(word)),
    'id',
  );
  if (exact) return exact;
  const bare = word.replace(/^sha256:/, '');
  if (/^[0-9a-f]+$/.test(bare)) {
    const byPrefix = unique(
      list.filter((c) => c.prefixOf.some((p) => p.startsWith(bare))),
      'prefix',
    );
    if (byPrefix) return byPrefix;
  }
  const byName = unique(
    list.filter((c) => c.names.includes(word)),
    'name',
  );
  if (byName) return byName;
  if (kinds.includes('image')) {
    const n = normalizedRef(word);
    if (n) {
      const hits = list.filter((c) => c.names.includes(n));
      const t = unique(hits, 'name');
      if (t) return t.kind === 'image' ? { ...t, ref: n } : t;
    }
  }
  throw new CliError(`no ${kinds.map((k) => kindWord[k]).join(' or ')} "${word}" (by id, id prefix or name)`);
}

/** Resolves an id, unique id prefix or unique name to one pod, container or image. */
export async function resolve(ctx: ClientContext, word: string, kinds: readonly Kind[]): Promise<Target> {
  if (word === '') throw new CliError('an empty id names nothing');
  return pick(word, await candidates(ctx, kinds), kinds);
}

/** Resolves several words with one listing. Each word resolves on its own (an error names it). */
export async function resolveAll(ctx: ClientContext, words: readonly string[], kinds: readonly Kind[]): Promise<Target[]> {
  const list = await candidates(ctx, kinds);
  return words.map((w) => pick(w, list, kinds));
}

export async function resolvePod(ctx: ClientContext, word: string): Promise<PodSandbox__Output> {
  const t = await resolve(ctx, word, ['pod']);
  if (t.kind !== 'pod') throw new CliError(`"${word}" is not a pod`);
  return t.pod;
}

export async function resolveContainer(ctx: ClientContext, word: string): Promise<Container__Output> {
  const t = await resolve(ctx, word, ['container']);
  if (t.kind !== 'container') throw new CliError(`"${word}" is not a container`);
  return t.container;
}

/** An image word as the image calls want it (the tag or digest as typed, or the full id of a prefix). */
export async function resolveImageRef(ctx: ClientContext, word: string): Promise<{ ref: string; image: Image__Output }> {
  const t = await resolve(ctx, word, ['image']).catch(async (err: unknown) => {
    // The store knows spellings the client does not (e.g. normalizations of digests): ask it.
    const st = await call(ctx.clients.image, 'ImageStatus', { image: { image: word } });
    if (st.image) return { kind: 'image' as const, id: st.image.id, image: st.image, ref: word };
    throw err;
  });
  if (t.kind !== 'image') throw new CliError(`"${word}" is not an image`);
  return { ref: t.ref, image: t.image };
}
