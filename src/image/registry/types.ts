/** A parsed, normalized image reference: `docker.io/library/busybox:latest`, `host:5000/a/b@sha256:...`. */
export interface ImageReference {
  /** Registry host as users write it, normalized: "docker.io", "registry.k8s.io", "127.0.0.1:5000". */
  registry: string;
  /** Repository path within the registry: "library/busybox". */
  repository: string;
  tag?: string;
  digest?: string;
}

/** Credentials for one pull or push, as the CRI AuthConfig carries them. */
export interface Credentials {
  username?: string;
  password?: string;
  /** base64("user:password"). */
  auth?: string;
  /** An OAuth2 refresh token, exchanged at the token realm. */
  identityToken?: string;
  /** A bearer token to use as is. */
  registryToken?: string;
}

/** How cribd reaches registries (the `registries` section of the config file). */
export interface RegistryConfig {
  /** Per registry host, endpoints tried in order before the registry itself ("https://mirror:5000", "http://10.0.0.1:5000"). */
  mirrors: Record<string, string[]>;
  /**
   * Hosts allowed over plain HTTP and HTTPS without verification. Loopback hosts may fall back to
   * plain HTTP when they do not speak TLS, but their certificates are still verified.
   */
  insecure: string[];
  /** PEM files trusted in addition to the system CAs. */
  caFiles: string[];
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

/** A single-platform image manifest (Docker schema 2 or OCI), already parsed. */
export interface ImageManifest {
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ResolvedManifest {
  /** The digest a `@digest` reference to this image pins (the index's when there was one). */
  digest: string;
  /** The platform manifest's own digest, bytes and parsed form. */
  manifestDigest: string;
  bytes: Buffer;
  manifest: ImageManifest;
}

export interface Progress {
  digest: string;
  done: number;
  total: number;
}
