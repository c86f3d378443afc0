// Image manifests and indexes (Docker schema 2 and OCI): media types, parsing, platform choice.
// They come from registries and archives: every descriptor is checked (a sha256 digest, a size
// that is a non-negative safe integer) before anything builds a URL or a path from it.
// Pure: no I/O.
import { CribError, quoteUntrusted } from '../util/errors.js';
import { parseUntrustedJson } from '../util/json.js';
import { MAX_IMAGE_LAYERS } from './limits.js';
import { validateDigest } from './reference.js';
import type { Descriptor, ImageManifest, Platform } from './registry/types.js';

export const MediaType = {
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',

  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',

  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerLayerZstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
  DockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OciNondistributableLayer: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OciNondistributableLayerGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  OciNondistributableLayerZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
} as const;

/** The Accept header for manifest requests: every manifest and index type crib reads. */
export const MANIFEST_ACCEPT = [MediaType.OciIndex, MediaType.DockerManifestList, MediaType.OciManifest, MediaType.DockerManifest].join(', ');

export const MANIFEST_TYPES: ReadonlySet<string> = new Set([MediaType.DockerManifest, MediaType.OciManifest]);
export const INDEX_TYPES: ReadonlySet<string> = new Set([MediaType.DockerManifestList, MediaType.OciIndex]);
export const CONFIG_TYPES: ReadonlySet<string> = new Set([MediaType.DockerConfig, MediaType.OciConfig]);

export type LayerCompression = 'gzip' | 'zstd' | 'none';

const LAYER_COMPRESSION: ReadonlyMap<string, LayerCompression> = new Map([
  [MediaType.DockerLayerGzip, 'gzip'],
  [MediaType.DockerLayerZstd, 'zstd'],
  [MediaType.DockerForeignLayerGzip, 'gzip'],
  [MediaType.OciLayer, 'none'],
  [MediaType.OciLayerGzip, 'gzip'],
  [MediaType.OciLayerZstd, 'zstd'],
  [MediaType.OciNondistributableLayer, 'none'],
  [MediaType.OciNondistributableLayerGzip, 'gzip'],
  [MediaType.OciNondistributableLayerZstd, 'zstd'],
]);

/** How a layer blob is compressed, or undefined when the media type is not a layer crib knows. */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  return LAYER_COMPRESSION.get(mediaType);
}

/**
 * Foreign (Docker) and non-distributable (OCI) layers: registries may not hold them; their
 * descriptors may carry `urls` to fetch them from elsewhere.
 */
export function isForeignLayer(mediaType: string): boolean {
  return mediaType === MediaType.DockerForeignLayerGzip || mediaType.startsWith('application/vnd.oci.image.layer.nondistributable.');
}

/** A multi-platform image: an OCI image index or a Docker manifest list. */
export interface ImageIndex {
  mediaType: string;
  manifests: Descriptor[];
}

export type ParsedManifest = { kind: 'manifest'; manifest: ImageManifest } | { kind: 'index'; index: ImageIndex };

const corrupt = (why: string): CribError => new CribError('InvalidArgument', `invalid manifest: ${why}`);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parsePlatform(v: unknown, where: string): Platform | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v) || typeof v.os !== 'string' || typeof v.architecture !== 'string') {
    throw corrupt(`${where}.platform needs string "os" and "architecture"`);
  }
  const p: Platform = { os: v.os, architecture: v.architecture };
  if (typeof v.variant === 'string' && v.variant !== '') p.variant = v.variant;
  return p;
}

function parseDescriptor(v: unknown, where: string): Descriptor {
  if (!isObject(v)) throw corrupt(`${where} is not an object`);
  if (typeof v.mediaType !== 'string' || v.mediaType === '') throw corrupt(`${where}.mediaType missing`);
  if (typeof v.digest !== 'string') throw corrupt(`${where}.digest missing`);
  const why = validateDigest(v.digest);
  if (why) throw corrupt(`${where}.digest: ${why}`);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) throw corrupt(`${where}.size must be a non-negative integer`);
  const d: Descriptor = { mediaType: v.mediaType, digest: v.digest, size: v.size };
  const platform = parsePlatform(v.platform, where);
  if (platform) d.platform = platform;
  if (isObject(v.annotations)) {
    const annotations: Record<string, string> = {};
    for (const [k, val] of Object.entries(v.annotations)) if (typeof val === 'string') annotations[k] = val;
    d.annotations = annotations;
  }
  return d;
}

/** The media type without parameters (`; charset=utf-8`), lowercased. */
function bareMediaType(header: string | undefined): string | undefined {
  const t = header?.split(';')[0]?.trim().toLowerCase();
  return t ? t : undefined;
}

/**
 * Parses manifest bytes as a single-platform manifest or an index. The type comes from the
 * document's own `mediaType`, else the Content-Type header, else its shape (OCI allows leaving the
 * field out). Schema 1 manifests are refused (CribError 'Unimplemented'); malformed ones are
 * CribError 'InvalidArgument'.
 */
export function parseManifestOrIndex(bytes: Buffer, mediaTypeHeader?: string): ParsedManifest {
  const doc = parseUntrustedJson(bytes, 'invalid manifest: the document');
  if (!isObject(doc)) throw corrupt('not a JSON object');
  const header = bareMediaType(mediaTypeHeader);
  if (doc.schemaVersion === 1 || header === MediaType.DockerSchema1 || header === MediaType.DockerSchema1Signed) {
    throw new CribError('Unimplemented', 'Docker schema 1 manifests are not supported (the image must be pushed again with a current client)');
  }
  let mediaType = typeof doc.mediaType === 'string' && doc.mediaType !== '' ? doc.mediaType : undefined;
  if (!mediaType && header && (MANIFEST_TYPES.has(header) || INDEX_TYPES.has(header))) mediaType = header;
  if (!mediaType) {
    if (Array.isArray(doc.manifests)) mediaType = MediaType.OciIndex;
    else if (doc.config !== undefined && Array.isArray(doc.layers)) mediaType = MediaType.OciManifest;
    else throw corrupt(`unknown kind of document (Content-Type ${quoteUntrusted(mediaTypeHeader ?? '')})`);
  }
  if (doc.schemaVersion !== 2) throw corrupt('schemaVersion is not 2');

  if (INDEX_TYPES.has(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw corrupt('index without "manifests"');
    return {
      kind: 'index',
      index: { mediaType, manifests: doc.manifests.map((m, i) => parseDescriptor(m, `manifests[${i}]`)) },
    };
  }
  if (MANIFEST_TYPES.has(mediaType)) {
    if (!Array.isArray(doc.layers)) throw corrupt('manifest without "layers"');
    if (doc.layers.length > MAX_IMAGE_LAYERS) throw corrupt(`${doc.layers.length} layers, more than the ${MAX_IMAGE_LAYERS} overlayfs can stack`);
    return {
      kind: 'manifest',
      manifest: {
        mediaType,
        config: parseDescriptor(doc.config, 'config'),
        layers: doc.layers.map((l, i) => parseDescriptor(l, `layers[${i}]`)),
      },
    };
  }
  throw new CribError('Unimplemented', `unsupported manifest media type ${quoteUntrusted(mediaType)}`);
}

/** How many of an index's platforms a "no image for platform" error names. */
const MAX_PLATFORMS_NAMED = 16;

const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  x86: '386',
  i386: '386',
  i686: '386',
  aarch64: 'arm64',
  armhf: 'arm',
  armel: 'arm',
};

/** Lowercases and maps aliases; arm64 gets variant v8 and arm v7 when they have none. */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase();
  const arch0 = p.architecture.toLowerCase();
  const architecture = ARCH_ALIASES[arch0] ?? arch0;
  let variant = p.variant?.toLowerCase() || undefined;
  if (arch0 === 'armel' && !variant) variant = 'v6';
  if (variant && /^\d+$/.test(variant)) variant = `v${variant}`;
  if (architecture === 'arm64' && (!variant || variant === 'v8.0')) variant = 'v8';
  if (architecture === 'arm' && !variant) variant = 'v7';
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** The platform this process runs on, as OCI names it. */
export function defaultPlatform(arch: string = process.arch, platform: string = process.platform): Platform {
  const os = platform === 'win32' ? 'windows' : platform;
  switch (arch) {
    case 'x64':
      return { os, architecture: 'amd64' };
    case 'arm64':
      return { os, architecture: 'arm64', variant: 'v8' };
    case 'arm':
      return { os, architecture: 'arm', variant: 'v7' };
    case 'ia32':
      return { os, architecture: '386' };
    default:
      return { os, architecture: arch };
  }
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/**
 * How well a candidate platform serves the wanted one: undefined when it cannot run, else a rank
 * (lower is better). os and architecture must match. When the wanted platform names a variant, the
 * candidate's must match it, except that 32-bit arm runs older variants (v7 runs v6 and v5),
 * ranked after the exact one. When no variant is wanted any variant does, the plain one first.
 */
function platformRank(want: Platform, have: Platform): number | undefined {
  if (want.os !== have.os || want.architecture !== have.architecture) return undefined;
  if (want.variant === undefined) return have.variant === undefined ? 0 : 1;
  if (have.variant === want.variant) return 0;
  if (want.architecture === 'arm') {
    const w = /^v(\d+)$/.exec(want.variant);
    const h = /^v(\d+)$/.exec(have.variant ?? '');
    if (w && h && Number(h[1]) < Number(w[1])) return 1 + Number(w[1]) - Number(h[1]);
  }
  return undefined;
}

/**
 * Picks the manifest for a platform out of an index (default: this machine's). Entries without a
 * platform, entries that are not image manifests (nested indexes, artifacts) and attestation
 * manifests (platform unknown/unknown) never match. Throws
 * CribError('NotFound') listing the platforms the index has when none fits.
 */
export function selectPlatform(index: ImageIndex, want: Platform = defaultPlatform()): Descriptor {
  const w = normalizePlatform(want);
  let best: { d: Descriptor; rank: number } | undefined;
  for (const d of index.manifests) {
    if (!d.platform || !MANIFEST_TYPES.has(d.mediaType)) continue;
    const rank = platformRank(w, normalizePlatform(d.platform));
    if (rank !== undefined && (!best || rank < best.rank)) best = { d, rank };
  }
  if (best) return best.d;
  const available = [
    ...new Set(
      index.manifests
        .filter((d) => d.platform && !(d.platform.os === 'unknown' && d.platform.architecture === 'unknown'))
        .map((d) => formatPlatform(d.platform as Platform)),
    ),
  ];
  // An index is untrusted: name a few of its platforms, each cut short.
  const shown = available.slice(0, MAX_PLATFORMS_NAMED).map((p) => (p.length > 64 ? quoteUntrusted(p, 64) : p));
  if (available.length > shown.length) shown.push(`${available.length - shown.length} more`);
  throw new CribError('NotFound', `no image for platform ${formatPlatform(w)} (available: ${shown.length ? shown.join(', ') : 'none'})`);
}
