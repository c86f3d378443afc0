import { CribError } from '../util/errors.js';
import { parseManifestOrIndex } from './manifest.js';
import { parseReference } from './reference.js';
import type { RegistryClient } from './registry/client.js';
import type { Credentials } from './registry/types.js';
import type { ImageStore } from './store.js';
import type { Image } from './types.js';

/**
 * Pushes a stored image to `target` (e.g. a private mirror of registry.k8s.io): config and layer
 * blobs the registry lacks, then the manifest exactly as stored, so its digest stays the same.
 */
export async function pushImage(store: ImageStore, registry: RegistryClient, image: Image, target: string, creds?: Credentials): Promise<string> {
  const ref = parseReference(target);
  const manifestBytes = await store.readBlob(image.manifestDigest);
  const parsed = parseManifestOrIndex(manifestBytes, image.manifestMediaType);
  if (parsed.kind !== 'manifest') throw new CribError('Internal', `stored manifest ${image.manifestDigest} is an index`);
  const { manifest } = parsed;
  for (const desc of [manifest.config, ...manifest.layers]) {
    await registry.pushBlob(ref, desc, store.blobPath(desc.digest), creds);
  }
  await registry.pushManifest(ref, manifestBytes, image.manifestMediaType, creds);
  return image.manifestDigest;
}
