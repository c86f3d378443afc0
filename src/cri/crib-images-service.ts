import type * as grpc from '@grpc/grpc-js';
import type { ImageService } from '../image/service.js';
import { invalidArgument } from '../util/errors.js';
import { log } from '../util/log.js';
import { toStatus } from './errors.js';
import type { Auth__Output } from './generated/crib/v1/Auth.js';
import type { ImagesHandlers } from './generated/crib/v1/Images.js';
import type { PullEvent } from './generated/crib/v1/PullEvent.js';
import type { PullRequest__Output } from './generated/crib/v1/PullRequest.js';
import { toCredentials } from './image-service.js';
import { unary } from './unary.js';

const credentials = (a: Auth__Output | null) => (a ? toCredentials({ ...a, server_address: '' }) : undefined);

/** crib.v1.Images: pull progress, import, export and push, for the crib CLI. */
export function cribImagesHandlers(images: ImageService): ImagesHandlers {
  return {
    PullWithProgress(call: grpc.ServerWritableStream<PullRequest__Output, PullEvent>) {
      const { image, auth } = call.request;
      if (!image) {
        call.emit('error', toStatus(invalidArgument('image', 'required')));
        return;
      }
      images
        .pull(image, credentials(auth), (p) => call.write({ digest: p.digest, done: p.done, total: p.total }))
        .then(
          (img) => {
            call.write({ image_id: img.id });
            call.end();
          },
          (err: unknown) => {
            log.info('PullWithProgress failed', { image, error: err });
            call.emit('error', toStatus(err));
          },
        );
    },

    Import: unary('Import', async (req) => {
      const imported = await images.importArchive(req.path, req.name || undefined);
      return { image_ids: imported.map((i) => i.id), repo_tags: imported.flatMap((i) => i.repoTags) };
    }),

    Export: unary('Export', async (req) => {
      const format = req.format || 'oci-archive';
      if (format !== 'oci-archive' && format !== 'docker-archive') {
        throw invalidArgument('format', `"${format}" is not oci-archive or docker-archive`);
      }
      await images.exportArchive(req.images, req.path, format);
      return {};
    }),

    Push: unary('Push', async (req) => ({ digest: await images.push(req.image, req.target || undefined, credentials(req.auth)) })),
  };
}
