import type { ImageStore } from '../image/store.js';
import type { Image } from '../image/types.js';
import { invalidArgument } from '../util/errors.js';
import type { Image as CriImage } from './generated/runtime/v1/Image.js';
import type { ImageServiceHandlers } from './generated/runtime/v1/ImageService.js';
import { unary } from './unary.js';

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

/** runtime.v1.ImageService: listing and status of the store; pulling and removal come with the image issue. */
export function imageServiceHandlers(store: ImageStore): Partial<ImageServiceHandlers> {
  return {
    ListImages: unary('ListImages', async (req) => {
      const want = req.filter?.image?.image;
      const images = want ? [store.resolve(want)].filter((i): i is Image => i !== undefined) : store.list();
      return { images: images.map(toCriImage) };
    }),
    ImageStatus: unary('ImageStatus', async (req) => {
      if (!req.image?.image) throw invalidArgument('image.image', 'required');
      const img = store.resolve(req.image.image);
      const info: Record<string, string> = {};
      if (img && req.verbose) info['info'] = JSON.stringify({ config: img.config, manifestDigest: img.manifestDigest, diffIds: img.diffIds });
      // An absent image is not an error: kubelet asks before it pulls.
      return { image: img ? toCriImage(img) : null, info };
    }),
  };
}
