import * as grpc from '@grpc/grpc-js';
import { criPackageDefinition } from '../cri/proto.js';
import type { ImageServiceClient } from '../cri/generated/runtime/v1/ImageService.js';
import type { RuntimeServiceClient } from '../cri/generated/runtime/v1/RuntimeService.js';
import type { ProtoGrpcType } from '../cri/generated/api.js';
import type { ProtoGrpcType as CribProtoGrpcType } from '../cri/generated/images.js';
import type { ImagesClient } from '../cri/generated/crib/v1/Images.js';

export interface CriClients {
  runtime: RuntimeServiceClient;
  image: ImageServiceClient;
  /** crib's own image calls (progress, import, export, push). */
  cribImages: ImagesClient;
  close(): void;
}

/** CRI clients of a cribd (or any CRI runtime) socket; the same path kubelet uses. */
export function connect(socket: string): CriClients {
  const loaded = grpc.loadPackageDefinition(criPackageDefinition());
  const pkg = loaded as unknown as ProtoGrpcType;
  const cribPkg = loaded as unknown as CribProtoGrpcType;
  const target = `unix://${socket}`;
  const creds = grpc.credentials.createInsecure();
  const runtime = new pkg.runtime.v1.RuntimeService(target, creds);
  const image = new pkg.runtime.v1.ImageService(target, creds, { channelOverride: runtime.getChannel() });
  const cribImages = new cribPkg.crib.v1.Images(target, creds, { channelOverride: runtime.getChannel() });
  return {
    runtime,
    image,
    cribImages,
    close: () => runtime.close(),
  };
}

type ReqOf<F> = F extends (argument: infer Q, callback: grpc.requestCallback<infer _R>) => grpc.ClientUnaryCall ? Q : never;
type ResOf<F> = F extends (argument: never, callback: grpc.requestCallback<infer R>) => grpc.ClientUnaryCall ? R : never;

/** Calls a unary method by name and resolves with its response (deadline in seconds). */
export function call<C extends grpc.Client, K extends keyof C & string>(client: C, method: K, req: ReqOf<C[K]>, deadlineSeconds = 120): Promise<ResOf<C[K]>> {
  return new Promise((resolve, reject) => {
    const fn = client[method] as unknown as (r: unknown, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v?: unknown) => void) => void;
    fn.call(client, req, { deadline: Date.now() + deadlineSeconds * 1000 }, (err, res) => {
      if (err) reject(err);
      else resolve(res as ResOf<C[K]>);
    });
  });
}
