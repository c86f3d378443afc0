import { nowNanos } from '../util/time.js';
import type { ImageService } from '../image/service.js';
import type { Image } from '../image/types.js';
import type { Credentials } from '../image/registry/types.js';
import { invalidArgument } from '../util/errors.js';
import type { AuthConfig__Output } from './generated/runtime/v1/AuthConfig.js';
import type { Image as CriImage } from './generated/runtime/v1/Image.js';
import type { ImageServiceHandlers } from './generated/runtime/v1/ImageService.js';
import { unary } from './unary.js';
import type { ImageUsers } from '../image/store.js';
import { untilAborted } from '../util/context.js';

/** The numeric uid of an image's User ("1000", "1000:1000"), else its name; as kubelet wants them. */
export function imageUser(user: string | undefined): { uid?: string; username: string } {
  const u = (user ?? '').split(':')[0] ?? '';
  if (u === '') return { username: '' };
  return /^\d+$/.test(u) ? { uid: u, username: '' } : { username: u };
}

export function toCriImage(img: Image): CriImage {
  const user = imageUser(img.config.User);
  return {
    id: img.id,
    repo_tags: img.repoTags,
    repo_digests: img.repoDigests,
    size: String(img.size),
    ...(user.uid !== undefined ? { uid: { value: user.uid } } : {}),
    username: user.username,
    spec: { image: img.id, annotations: {} },
    pinned: img.pinned,
  };
}

export function toCredentials(a: AuthConfig__Output | null): Credentials | undefined {
  if (!a) return undefined;
  const c: Credentials = {};
  if (a.username) c.username = a.username;
  if (a.password) c.password = a.password;
  if (a.auth) c.auth = a.auth;
  if (a.identity_token) c.identityToken = a.identity_token;
  if (a.registry_token) c.registryToken = a.registry_token;
  return Object.keys(c).length ? c : undefined;
}

function imageRef(spec: { image: string } | null, field: string): string {
  if (!spec?.image) throw invalidArgument(field, 'required');
  return spec.image;
}

/** runtime.v1.ImageService. */
export function imageServiceHandlers(images: ImageService, mountpoint: string, users: ImageUsers): Partial<ImageServiceHandlers> {
  return {
    ListImages: unary('ListImages', async (req) => ({ images: images.list(req.filter?.image?.image).map(toCriImage) })),

    ImageStatus: unary('ImageStatus', async (req) => {
      const img = images.find(imageRef(req.image, 'image.image'));
      const info: Record<string, string> = {};
      if (img && req.verbose) {
        info['info'] = JSON.stringify({ imageSpec: img.config, manifestDigest: img.manifestDigest, chainIds: img.diffIds, layers: img.layers });
      }
      // An absent image is not an error: kubelet asks before it pulls.
      return { image: img ? toCriImage(img) : null, info };
    }),

    PullImage: unary('PullImage', async (req, ctx) => {
      // A caller that gives up gets its answer at once; the download goes on for a retry to join.
      const img = await untilAborted(images.pull(imageRef(req.image, 'image.image'), toCredentials(req.auth)), ctx.signal);
      return { image_ref: img.id };
    }),

    RemoveImage: unary('RemoveImage', async (req) => {
      await images.remove(imageRef(req.image, 'image.image'), users);
      return {};
    }),

    ImageFsInfo: unary('ImageFsInfo', async () => {
      const u = await images.usage();
      const fs = {
        timestamp: nowNanos(),
        fs_id: { mountpoint },
        used_bytes: { value: String(u.bytes) },
        inodes_used: { value: String(u.inodes) },
      };
      return { image_filesystems: [fs], container_filesystems: [] };
    }),
  };
}
