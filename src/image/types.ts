/** The runtime-relevant part of an image's config (OCI image config `config` object). */
export interface ImageRuntimeConfig {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  StopSignal?: string;
}

/** An image in crib's store. `id` is the config digest, as containerd and CRI-O report it. */
export interface Image {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  manifestDigest: string;
  /** Uncompressed layer digests, bottom first; each is unpacked once under layers/. */
  diffIds: string[];
  /** Bytes of the compressed blobs (what `crictl images` shows). */
  size: number;
  config: ImageRuntimeConfig;
  pinned: boolean;
}
