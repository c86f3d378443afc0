import path from 'node:path';
import { call, protoJson, serverStream } from '../client/client.js';
import type { Command } from './command.js';
import type { ClientContext } from '../client/context.js';
import { CliError, UsageError } from '../client/errors.js';
import { humanSize, outputFormat, printData, progressSize, renderTable, shortId } from './output.js';
import { forEach } from './pods.js';
import { resolveImageRef } from './resolve.js';
import type { Auth } from '../cri/generated/crib/v1/Auth.js';
import type { PullEvent__Output } from '../cri/generated/crib/v1/PullEvent.js';
import type { Image__Output } from '../cri/generated/runtime/v1/Image.js';

/** `REPO:TAG` → [REPO, TAG] (the colon after the last slash). */
export function splitTag(ref: string): [string, string] {
  const at = ref.indexOf('@');
  const name = at >= 0 ? ref.slice(0, at) : ref;
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) return [name.slice(0, colon), name.slice(colon + 1)];
  return [name, '<none>'];
}

function credsAuth(creds: string | undefined): Auth | undefined {
  if (creds === undefined) return undefined;
  const i = creds.indexOf(':');
  if (i <= 0) throw new UsageError('--creds wants USER:PASSWORD');
  return { username: creds.slice(0, i), password: creds.slice(i + 1) };
}

export const imagesCommand: Command = {
  name: 'images',
  aliases: ['image ls', 'image list'],
  synopsis: '[-q] [-o FORMAT] [REF]',
  summary: 'List images (one row per tag), or the image REF names.',
  details: [
    '  -q, --quiet           only the image ids',
    '  -o, --output FORMAT   table (default), json or yaml (as crictl images -o json)',
    '',
    'Examples:',
    '  crib images busybox                 the tags of one repository',
    "  crib images -o json | jq -r '.images[].repoTags[]'",
  ].join('\n'),
  flags: { bool: ['quiet'], value: ['output'], alias: { q: 'quiet', o: 'output' } },
  async run(args, ctx) {
    if (args.positional.length > 1) throw new UsageError(`unexpected argument "${args.positional[1]}"`);
    const format = outputFormat(args.get('output'), ['table', 'json', 'yaml']);
    const ref = args.positional[0];
    let images: Image__Output[];
    if (ref !== undefined) {
      const r = await resolveImageRef(ctx, ref);
      images = [r.image];
    } else images = (await call(ctx.clients.image, 'ListImages', {})).images;
    images.sort((a, b) => (a.repo_tags[0] ?? '~').localeCompare(b.repo_tags[0] ?? '~') || a.id.localeCompare(b.id));
    if (args.has('quiet')) {
      for (const i of images) ctx.out.write(`${i.id}\n`);
      return 0;
    }
    if (format === 'json' || format === 'yaml') {
      printData(ctx, format, protoJson('ListImagesResponse', { images }));
      return 0;
    }
    const rows: string[][] = [];
    for (const img of images) {
      const size = humanSize(Number(img.size));
      const id = shortId(img.id);
      if (img.repo_tags.length) for (const t of img.repo_tags) rows.push([...splitTag(t), id, size]);
      else if (img.repo_digests.length) for (const d of img.repo_digests) rows.push([splitTag(d)[0], '<none>', id, size]);
      else rows.push(['<none>', '<none>', id, size]);
    }
    ctx.out.write(renderTable(ctx, ['REPOSITORY', 'TAG', 'IMAGE ID', 'SIZE'], rows));
    return 0;
  },
};

const BAR = 30;

function shortDigest(d: string): string {
  return d.startsWith('sha256:') ? `sha256:${d.slice(7, 19)}…` : d;
}

/** What a layer's progress line says: `sha256:abcdef012345… 12.3 MB/20.0 MB`. */
export function progressText(e: { digest: string; done: number; total: number }): string {
  return `${shortDigest(e.digest)} ${progressSize(e.done)}${e.total > 0 ? `/${progressSize(e.total)}` : ''}`;
}

function bar(done: number, total: number): string {
  if (total <= 0) return `[${' '.repeat(BAR)}]`;
  const filled = Math.min(BAR, Math.floor((done / total) * BAR));
  const body = filled >= BAR ? '='.repeat(BAR) : `${'='.repeat(filled)}>${' '.repeat(BAR - filled - 1)}`;
  return `[${body}] ${String(Math.min(100, Math.floor((done / total) * 100))).padStart(3)}%`;
}

/**
 * Shows pull progress. On a terminal: one line per layer with a bar, redrawn in place (at most
 * ten times a second). Otherwise: a plain line per layer at most once a second, and when it is done.
 */
class PullProgress {
  private readonly layers = new Map<string, { done: number; total: number; printedAt: number; finished: boolean }>();
  private drawn = 0;
  private lastDraw = 0;

  constructor(private readonly ctx: ClientContext) {}

  update(e: PullEvent__Output): void {
    if (!e.digest) return;
    const done = Number(e.done);
    const total = Number(e.total);
    const prev = this.layers.get(e.digest) ?? { done: 0, total, printedAt: 0, finished: false };
    const l = { ...prev, done, total };
    this.layers.set(e.digest, l);
    if (this.ctx.isTTY) {
      if (Date.now() - this.lastDraw >= 100) this.draw();
      return;
    }
    const complete = total > 0 && done >= total;
    if (l.finished) return;
    if (complete || Date.now() - l.printedAt >= 1000) {
      l.printedAt = Date.now();
      l.finished = complete;
      this.ctx.out.write(`${progressText({ digest: e.digest, done, total })}${complete ? ' done' : ''}\n`);
    }
  }

  draw(): void {
    if (!this.ctx.isTTY) return;
    this.lastDraw = Date.now();
    let s = this.drawn ? `\x1b[${this.drawn}A` : '';
    for (const [digest, l] of this.layers) {
      s += `\x1b[2K${shortDigest(digest)}  ${bar(l.done, l.total)}  ${progressSize(l.done)}${l.total > 0 ? `/${progressSize(l.total)}` : ''}\n`;
    }
    this.drawn = this.layers.size;
    this.ctx.out.write(s);
  }
}

export const pullCommand: Command = {
  name: 'pull',
  aliases: ['image pull'],
  synopsis: '[--creds USER:PASSWORD] REF',
  summary: 'Pull an image, showing per-layer progress (crib.v1.Images/PullWithProgress); prints the image id.',
  details: [
    '      --creds USER:PASSWORD   registry credentials (default: none, or a token the registry hands out)',
    '',
    'Examples:',
    '  crib pull busybox:1.36                   docker.io/library/busybox:1.36',
    '  crib pull --creds me:secret reg.local/app:v2',
  ].join('\n'),
  flags: { value: ['creds'] },
  async run(args, ctx) {
    const ref = args.positional[0];
    if (!ref) throw new UsageError('missing REF');
    if (args.positional.length > 1) throw new UsageError(`unexpected argument "${args.positional[1]}"`);
    const auth = credsAuth(args.get('creds'));
    const progress = new PullProgress(ctx);
    const stream = serverStream(ctx.clients.cribImages, 'PullWithProgress', { image: ref, ...(auth ? { auth } : {}) });
    let imageId = '';
    for await (const e of stream as AsyncIterable<PullEvent__Output>) {
      if (e.image_id) imageId = e.image_id;
      progress.update(e);
    }
    progress.draw();
    if (!imageId) throw new CliError(`pull of ${ref} ended without an image id`);
    ctx.out.write(`Image is up to date for ${imageId}\n`);
    return 0;
  },
};

export const rmiCommand: Command = {
  name: 'rmi',
  aliases: ['image rm', 'image remove'],
  synopsis: 'IMAGE...',
  summary: 'Remove images: a tag removes that tag (the image when it was the last), an id or id prefix the image.',
  flags: {},
  async run(args, ctx) {
    if (!args.positional.length) throw new UsageError('missing IMAGE');
    return forEach(ctx, 'rmi', args.positional, async (word) => {
      const { ref, image } = await resolveImageRef(ctx, word);
      await call(ctx.clients.image, 'RemoveImage', { image: { image: ref } });
      ctx.out.write(`Deleted: ${ref === image.id ? image.id : ref}\n`);
    });
  },
};

export const imageImportCommand: Command = {
  name: 'image import',
  synopsis: '[--name REF] FILE',
  summary: 'Import a docker-archive or oci-archive tar (docker save, skopeo copy ... oci-archive:) into the image store.',
  details: '      --name REF        the name of untagged images of an oci-archive',
  flags: { value: ['name'] },
  async run(args, ctx) {
    const file = args.positional[0];
    if (!file) throw new UsageError('missing FILE');
    const res = await call(ctx.clients.cribImages, 'Import', { path: path.resolve(file), name: args.get('name') ?? '' }, 3600);
    for (const t of res.repo_tags) ctx.out.write(`Loaded image: ${t}\n`);
    for (const id of res.image_ids) ctx.out.write(`Loaded image ID: ${id}\n`);
    return 0;
  },
};

export const imageExportCommand: Command = {
  name: 'image export',
  synopsis: '-o FILE [--format oci-archive|docker-archive] IMAGE...',
  summary: 'Write images to a tar on this node.',
  details: '  -o, --output FILE     the tar to write\n      --format FORMAT   oci-archive (default) or docker-archive',
  flags: { value: ['output', 'format'], alias: { o: 'output' } },
  async run(args, ctx) {
    const out = args.get('output');
    if (!out) throw new UsageError('missing -o FILE');
    if (!args.positional.length) throw new UsageError('missing IMAGE');
    const format = args.get('format') ?? 'oci-archive';
    if (format !== 'oci-archive' && format !== 'docker-archive') throw new UsageError(`--format wants oci-archive or docker-archive, not "${format}"`);
    const images: string[] = [];
    for (const w of args.positional) images.push((await resolveImageRef(ctx, w)).ref);
    const file = path.resolve(out);
    await call(ctx.clients.cribImages, 'Export', { images, path: file, format }, 3600);
    ctx.out.write(`Exported ${images.join(', ')} to ${file}\n`);
    return 0;
  },
};

export const imagePushCommand: Command = {
  name: 'image push',
  synopsis: '[--creds USER:PASSWORD] IMAGE [TARGET]',
  summary: 'Push a stored image to a registry, as its own name or as TARGET; prints the manifest digest.',
  details: '      --creds USER:PASSWORD   registry credentials',
  flags: { value: ['creds'] },
  async run(args, ctx) {
    const [word, target, extra] = args.positional;
    if (!word) throw new UsageError('missing IMAGE');
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
    const auth = credsAuth(args.get('creds'));
    const { ref } = await resolveImageRef(ctx, word);
    const res = await call(ctx.clients.cribImages, 'Push', { image: ref, target: target ?? '', ...(auth ? { auth } : {}) }, 3600);
    ctx.out.write(`Pushed ${target ?? ref}: ${res.digest}\n`);
    return 0;
  },
};
