import { parseReference } from './reference.js';
import type { RegistryClient } from './registry/client.js';
import type { Credentials, Descriptor } from './registry/types.js';
import type { ImageStore } from './store.js';
import type { Image } from './types.js';

/**
 * Pushes a stored image to `target` (e.g. a private mirror of registry.k8s.io): config and layer
 * blobs the registry lacks, then the manifest exactly as stored, so its digest stays the same.
 */
export async function pushImage(store: ImageStore, registry: RegistryClient, image: Image, target: string, creds?: Credentials): Promise<string> {
  const ref = parseReference(target);
  const manifestBytes = await store.readBlob(image.manifestDigest);
  const manifest = JSON.parse(manifestBytes.toString()) as { config: Descriptor; layers: Descriptor[] };
  for (const desc of [manifest.config, ...manifest.layers]) {
    await registry.pushBlob(ref, desc, store.blobPath(desc.digest), creds);
  }
  await registry.pushManifest(ref, manifestBytes, image.manifestMediaType, creds);
  return image.manifestDigest;
}
