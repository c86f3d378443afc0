// A registry that says whatever a test wants: a small HTTP server on 127.0.0.1 answering the
// distribution API from a table of paths, for answers no real registry would give (a manifest
// naming a 1 TiB config, a manifest that never ends, a hostile layer). It records every request.
import http from 'node:http';
import type net from 'node:net';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { tarArchive, type TarEntry } from '../../support/registry.js';

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A fixed answer, or a handler for answers that stream or stall. */
export type FakeAnswer = { body: Buffer; contentType?: string } | ((req: http.IncomingMessage, res: http.ServerResponse) => void);

export interface FakeRegistry {
  /** `127.0.0.1:PORT`. */
  host: string;
  /** Paths requested, in order. */
  requests: string[];
  /** Answers by path (`/v2/REPO/manifests/TAG`, `/v2/REPO/blobs/DIGEST`); others are 404. */
  answers: Map<string, FakeAnswer>;
  /** Serves an image under `repo:tag` (and its manifest by digest); returns the manifest's digest. */
  serveImage(repo: string, tag: string, image: FakeImage): string;
  close(): Promise<void>;
}

export interface FakeImage {
  /** The manifest document, served as it is (tests may make it lie). */
  manifest: Record<string, unknown>;
  /** Blobs by digest. */
  blobs: Map<string, Buffer>;
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** A gzipped layer of these entries, with its digest and diffID. */
export function fakeLayer(entries: TarEntry[]): { blob: Buffer; diffId: string; digest: string } {
  const tar = tarArchive(entries);
  const blob = zlib.gzipSync(tar);
  return { blob, diffId: sha256(tar), digest: sha256(blob) };
}

/**
 * An answer that sends the first `sendFirst` bytes of `body` and then holds the rest until
 * `release()`, so a test can act while a client is known to be mid-transfer. Requests after the
 * release get the whole body at once.
 */
export function stallingAnswer(body: Buffer, sendFirst: number): { answer: FakeAnswer; release: () => void } {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let open = false;
  void released.then(() => (open = true));
  const answer: FakeAnswer = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
    if (open) return void res.end(body);
    res.write(body.subarray(0, sendFirst));
    void released.then(() => res.end(body.subarray(sendFirst)));
  };
  return { answer, release };
}

/** An OCI image of the given gzipped layer blobs, whose config lists their diffIDs. */
export function fakeImage(layers: { blob: Buffer; diffId: string }[]): FakeImage {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } }),
  );
  const blobs = new Map<string, Buffer>([[sha256(config), config]]);
  for (const l of layers) blobs.set(sha256(l.blob), l.blob);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(l.blob), size: l.blob.length })),
  };
  return { manifest, blobs };
}

export async function startFakeRegistry(): Promise<FakeRegistry> {
  const requests: string[] = [];
  const answers = new Map<string, FakeAnswer>();
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push(p);
    const a = p === '/v2/' ? { body: Buffer.from('{}') } : answers.get(p);
    if (!a) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"NOT_FOUND","message":"not here"}]}');
    } else if (typeof a === 'function') {
      a(req, res);
    } else {
      res.writeHead(200, { 'content-type': a.contentType ?? 'application/octet-stream', 'content-length': String(a.body.length) });
      res.end(a.body);
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    host,
    requests,
    answers,
    serveImage(repo, tag, image) {
      const bytes = Buffer.from(JSON.stringify(image.manifest));
      const manifest = { body: bytes, contentType: OCI_MANIFEST };
      answers.set(`/v2/${repo}/manifests/${tag}`, manifest);
      answers.set(`/v2/${repo}/manifests/${sha256(bytes)}`, manifest);
      for (const [d, b] of image.blobs) answers.set(`/v2/${repo}/blobs/${d}`, { body: b });
      return sha256(bytes);
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
