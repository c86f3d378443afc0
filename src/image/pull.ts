import fs from 'node:fs/promises';
import { CribError } from '../util/errors.js';
import { log } from '../util/log.js';
import { parseImageConfig } from './image-config.js';
import { formatReference, parseReference } from './reference.js';
import type { RegistryClient } from './registry/client.js';
import type { Credentials, Descriptor, ImageReference, Progress, ResolvedManifest } from './registry/types.js';
import type { ImageStore } from './store.js';
import type { Image, ImageRuntimeConfig } from './types.js';
import { unpackLayer } from './unpack.js';

/** What a pull reports while it runs: per-blob bytes done of bytes total. */
export type ProgressListener = (p: Progress) => void;

/** Who counts pulls (the Prometheus endpoint): how each pull ended, and the bytes registries sent. */
export interface PullObserver {
  /** A pull (however many callers shared it) ended after `seconds`. */
  pulled(seconds: number, ok: boolean): void;
  /** Verified manifest, config or layer bytes fetched from a registry. */
  fetched(bytes: number): void;
}

/** How many layers of one image download at once. */
const LAYER_CONCURRENCY = 3;

/**
 * Pulls images into the store. Each blob is downloaded once even when several pulls want it at
 * the same time; the image is listed only when every blob is verified and every layer unpacked.
 */
export class ImagePuller {
  private readonly blobsInFlight = new Map<string, Promise<void>>();
  private readonly layersInFlight = new Map<string, Promise<void>>();
  private readonly pullsInFlight = new Map<string, Promise<Image>>();
  private readonly listeners = new Map<string, Set<ProgressListener>>();

  constructor(
    private readonly store: ImageStore,
    private readonly registry: RegistryClient,
    private readonly isPinned: (ref: string) => boolean,
    private readonly observer?: PullObserver,
  ) {}

  /** Pulls `refText` (normalized as Docker does); concurrent pulls of one reference share the work. */
  pull(refText: string, creds?: Credentials, onProgress?: ProgressListener): Promise<Image> {
    const ref = parseReference(refText);
    const key = formatReference(ref);
    if (onProgress) this.subscribe(key, onProgress);
    let p = this.pullsInFlight.get(key);
    if (!p) {
      p = this.observed(this.doPull(ref, key, creds)).finally(() => {
        this.pullsInFlight.delete(key);
        this.listeners.delete(key);
      });
      this.pullsInFlight.set(key, p);
    }
    return p;
  }

  private observed(pull: Promise<Image>): Promise<Image> {
    const o = this.observer;
    if (!o) return pull;
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    return pull.then(
      (img) => {
        o.pulled(seconds(), true);
        return img;
      },
      (err: unknown) => {
        o.pulled(seconds(), false);
        throw err;
      },
    );
  }

  /** Follows the progress of a pull in flight (the CLI's progress bars); false if none is. */
  subscribe(refKey: string, listener: ProgressListener): boolean {
    let set = this.listeners.get(refKey);
    if (!set) this.listeners.set(refKey, (set = new Set()));
    set.add(listener);
    return this.pullsInFlight.has(refKey);
  }

  private emit(refKey: string, p: Progress): void {
    for (const l of this.listeners.get(refKey) ?? []) l(p);
  }

  private async doPull(ref: ImageReference, key: string, creds?: Credentials): Promise<Image> {
    const started = Date.now();
    const resolved = await this.registry.resolve(ref, creds);
    const { manifest } = resolved;
    this.observer?.fetched(resolved.bytes.length);
    const releaseBlobs = this.store.hold([manifest.config.digest, resolved.manifestDigest, ...manifest.layers.map((l) => l.digest)]);
    let releaseLayers = () => {};
    try {
      const configBytes = await this.registry.fetchConfig(ref, manifest.config, creds);
      this.observer?.fetched(configBytes.length);
      const { config, diffIds } = parseImageConfig(configBytes, `image config ${manifest.config.digest} of ${key}`);
      if (diffIds.length !== manifest.layers.length) {
        throw new CribError('InvalidArgument', `image ${key}: config lists ${diffIds.length} diff_ids for ${manifest.layers.length} layers`);
      }
      const configDigest = await this.store.putBlob(configBytes, manifest.config.digest);
      releaseLayers = this.store.hold(diffIds);
      await this.store.putBlob(resolved.bytes, resolved.manifestDigest);
      await this.fetchLayers(ref, key, manifest.layers, diffIds, creds);
      return await this.record(ref, key, resolved, configDigest, config, diffIds, started);
    } finally {
      releaseBlobs();
      releaseLayers();
    }
  }

  private async fetchLayers(ref: ImageReference, key: string, layers: Descriptor[], diffIds: string[], creds?: Credentials): Promise<void> {
    // The caller checked that the config lists one diffID per layer.
    const queue = layers.map((layer, i) => ({ layer, diffId: diffIds[i] ?? '' }));
    const worker = async () => {
      for (let job = queue.shift(); job; job = queue.shift()) {
        await this.ensureBlob(ref, job.layer, key, creds);
        await this.ensureLayer(job.diffId, job.layer);
      }
    };
    await Promise.all(Array.from({ length: Math.min(LAYER_CONCURRENCY, layers.length) }, worker));
  }

  private async record(
    ref: ImageReference,
    key: string,
    resolved: ResolvedManifest,
    configDigest: string,
    config: ImageRuntimeConfig,
    diffIds: string[],
    started: number,
  ): Promise<Image> {
    const { manifest } = resolved;
    const repo = `${ref.registry}/${ref.repository}`;
    const image: Image = {
      id: configDigest,
      repoTags: ref.tag && !ref.digest ? [`${repo}:${ref.tag}`] : [],
      repoDigests: [`${repo}@${resolved.digest}`],
      manifestDigest: resolved.manifestDigest,
      manifestMediaType: manifest.mediaType,
      layers: manifest.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
      diffIds,
      size: manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0),
      config,
      pinned: this.isPinned(key),
    };
    const stored = await this.store.put(image);
    log.info('image pulled', { image: key, id: stored.id, ms: Date.now() - started });
    return stored;
  }

  /** Downloads a layer blob unless the store has it; one download per digest at a time. */
  private ensureBlob(ref: ImageReference, desc: Descriptor, key: string, creds?: Credentials): Promise<void> {
    let p = this.blobsInFlight.get(desc.digest);
    if (!p) {
      p = (async () => {
        if (await this.store.hasBlob(desc.digest)) return;
        const tmp = this.store.tmpPath(desc.digest);
        try {
          await this.registry.fetchBlob(ref, desc, tmp, creds, (prog) => this.emit(key, prog));
          await this.store.commitBlobFile(tmp, desc.digest);
          this.observer?.fetched(desc.size);
        } finally {
          await fs.rm(tmp, { force: true });
        }
      })().finally(() => this.blobsInFlight.delete(desc.digest));
      this.blobsInFlight.set(desc.digest, p);
    } else {
      // Someone else is downloading it: report it as ours too once it is done.
      p.then(
        () => this.emit(key, { digest: desc.digest, done: desc.size, total: desc.size }),
        () => undefined,
      );
    }
    return p;
  }

  private ensureLayer(diffId: string, desc: Descriptor): Promise<void> {
    let p = this.layersInFlight.get(diffId);
    if (!p) {
      p = this.store
        .ensureLayer(diffId, async (dir) => {
          await unpackLayer(this.store.blobPath(desc.digest), dir, { compression: 'auto', diffId });
        })
        .then(() => undefined)
        .finally(() => this.layersInFlight.delete(diffId));
      this.layersInFlight.set(diffId, p);
    }
    return p;
  }
}
