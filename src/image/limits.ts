// Bounds on what untrusted image content may make crib hold or do. Layer tars, archives and
// registry answers come from whoever can name an image; without these a few KiB of input can
// exhaust cribd's heap or the node's inodes. Each value is far above what real images need (the
// comment says why), so only input built to hurt the node meets one. Crossing a bound is an
// InvalidArgument naming it.

const KiB = 1024;
const MiB = 1024 * KiB;

/** Per-layer bounds, enforced by the tar reader (entries, headers) and the layer writer (what it keeps). */
export interface LayerLimits {
  /** Bytes of one PAX extended header or GNU long name/link body. */
  metaBytes: number;
  /** Bytes of an entry's path, or of its link target. */
  pathBytes: number;
  /** Bytes of one extended attribute value. */
  xattrValueBytes: number;
  /** Extended attributes on one entry (global and its own headers together). */
  xattrsPerEntry: number;
  /** Bytes of names and values of one entry's extended attributes. */
  xattrBytesPerEntry: number;
  /** Entries in one layer (files, directories, links, devices; not the extended headers). */
  entries: number;
  /** Bytes of extended attributes (names and values) kept to be set at the end of one layer. */
  layerXattrBytes: number;
  /**
   * Estimated bytes the writer keeps until the end of one layer: each path it remembers (known
   * directories, directory times, device nodes, whiteouts, opaque dirs, xattrs, deferred links)
   * counts its length plus BOOKKEEPING_RECORD_BYTES.
   */
  bookkeepingBytes: number;
}

export const LAYER_LIMITS: Readonly<LayerLimits> = {
  // Real PAX headers are a few KiB (they must hold a 64 KiB xattr value); Go's archive/tar, which
  // containerd and Docker use, refuses the same 1 MiB.
  metaBytes: 1 * MiB,
  // PATH_MAX: no longer path can be made in one system call, and real layers come from filesystems.
  pathBytes: 4096,
  // XATTR_SIZE_MAX: Linux refuses a larger value.
  xattrValueBytes: 64 * KiB,
  // Real files carry one to three (security.capability, security.selinux, a user.* note).
  xattrsPerEntry: 128,
  // What one PAX header can carry; ext4 fits all xattrs of an inode in one 4 KiB block.
  xattrBytesPerEntry: 1 * MiB,
  // The largest real layers (a full TeX Live, node_modules or conda trees) have a few hundred
  // thousand entries; two million is several times that, and stops a small gzip from filling the
  // node's inode table with empty files.
  entries: 2_000_000,
  // An SELinux label and a capability on each of 500,000 files is about 25 MiB.
  layerXattrBytes: 64 * MiB,
  // A 500,000-entry layer keeps well under 100 MiB (directories twice, the paths of files with
  // xattrs once). Three layers of a pull unpack at once, so cribd's heap (2-4 GiB) stays safe.
  bookkeepingBytes: 128 * MiB,
};

/** What one remembered path costs besides its characters: the Map/Set slot and string header. */
export const BOOKKEEPING_RECORD_BYTES = 64;

// ---- registry answers and archives ---------------------------------------------------------

/**
 * A manifest or index, from a registry or an archive (also an archive's index.json and Docker
 * manifest.json). Registries (distribution) refuse manifests above 4 MiB; twice that is headroom.
 */
export const MAX_MANIFEST_BYTES = 8 * MiB;

/**
 * An image config, checked against its descriptor's size before it is fetched or read. Real ones
 * are a few KiB, a few hundred KiB with a long history; containers/image (CRI-O, Podman) refuses
 * configs above 4 MiB. One is held in memory per pull.
 */
export const MAX_CONFIG_BYTES = 8 * MiB;

/**
 * Layers of one image: overlayfs stacks at most 500 lower directories (OVL_MAX_STACK), so an image
 * with more could never run; real ones have tens (Docker's overlay2 driver stops at 128).
 */
export const MAX_IMAGE_LAYERS = 500;

/** A token server's answer: a JSON object holding a token (a JWT of a few KiB). */
export const MAX_TOKEN_BODY_BYTES = 1 * MiB;

/** The body of a registry error answer, read only to quote its message. */
export const MAX_ERROR_BODY_BYTES = 64 * KiB;

/**
 * An image's /etc/passwd or /etc/group, read (whole, into memory) to resolve a container's user at
 * each CreateContainer. Real ones are a few KiB; one with a line for each of 65536 users is about
 * 4 MiB.
 */
export const MAX_ID_FILE_BYTES = 8 * MiB;
