/** The runtime-relevant part of an image's config (OCI image config `config` object). */
export interface ImageRuntimeConfig {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  StopSignal?: string;
}

/** A stored blob as a manifest lists it. */
export interface BlobRef {
  digest: string;
  size: number;
  mediaType: string;
}

/** An image in crib's store. `id` is the config digest, as containerd and CRI-O report it. */
export interface Image {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  manifestDigest: string;
  manifestMediaType: string;
  /** The layer blobs as the manifest lists them (compressed), bottom first. */
  layers: BlobRef[];
  /** Uncompressed layer digests, bottom first; each is unpacked once under layers/. */
  diffIds: string[];
  /** Bytes of the compressed blobs (what `crictl images` shows). */
  size: number;
  config: ImageRuntimeConfig;
  pinned: boolean;
}
