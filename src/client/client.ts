import fs from 'node:fs';
import type { MethodDefinition } from '@grpc/proto-loader';
import { protosJsonFile } from '../cri/proto-files.js';
import type { ImageServiceDefinition } from '../cri/generated/runtime/v1/ImageService.js';
import type { RuntimeServiceDefinition } from '../cri/generated/runtime/v1/RuntimeService.js';
import type { ImagesDefinition } from '../cri/generated/crib/v1/Images.js';
import { cribVersion } from '../version.js';
import { GrpcChannel, type ServerStream } from './grpc/channel.js';
import { ProtoCodec, type MethodInfo, type NamespaceJson } from './grpc/proto-codec.js';
import { toProtoJson } from './grpc/proto-json.js';
import { GrpcError, GrpcStatus } from './grpc/status.js';

let codec: ProtoCodec | undefined;

/** The CRI and crib.v1 protos, read once from the JSON the build writes. */
function protos(): ProtoCodec {
  codec ??= new ProtoCodec(JSON.parse(fs.readFileSync(protosJsonFile, 'utf8')) as NamespaceJson);
  return codec;
}

/**
 * A decoded message as protobuf's JSON mapping, as crictl prints it (`-o json|yaml`); `type` is its
 * full name without the package when in runtime.v1 ("ListPodSandboxResponse").
 */
export function protoJson(type: string, value: object | null | undefined): Record<string, unknown> | null {
  return toProtoJson(protos(), type.includes('.') ? type : `runtime.v1.${type}`, value as Record<string, unknown> | null | undefined);
}

/** One service over a channel; `D` (the generated definition) types its methods for `call` and `serverStream`. */
export class ServiceClient<D> {
  declare private readonly methodTypes: D;
  constructor(
    readonly channel: GrpcChannel,
    readonly service: string,
  ) {}
}

export interface CriClients {
  runtime: ServiceClient<RuntimeServiceDefinition>;
  image: ServiceClient<ImageServiceDefinition>;
  /** crib's own image calls (progress, import, export, push). */
  cribImages: ServiceClient<ImagesDefinition>;
  close(): void;
}

/**
 * CRI clients of a cribd (or any CRI runtime) socket; the same path kubelet uses. One connection,
 * made at the first call (node:http2, see grpc/channel.ts; messages through grpc/proto-codec.ts).
 */
export function connect(socket: string): CriClients {
  const channel = new GrpcChannel({ socket }, `crib/${cribVersion}`);
  return {
    runtime: new ServiceClient(channel, 'runtime.v1.RuntimeService'),
    image: new ServiceClient(channel, 'runtime.v1.ImageService'),
    cribImages: new ServiceClient(channel, 'crib.v1.Images'),
    close: () => channel.close(),
  };
}

/** The methods a generated definition names (without grpc-js's index signature, so a typo is an error). */
type MethodName<D> = keyof { [K in keyof D as string extends K ? never : K]: D[K] } & string;
type ReqOf<M> = M extends MethodDefinition<infer Q, infer _R, infer _QO, infer _RO> ? Q : never;
type ResOf<M> = M extends MethodDefinition<infer _Q, infer _R, infer _QO, infer RO> ? RO : never;

function methodOf(client: ServiceClient<unknown>, name: string): MethodInfo {
  const m = protos().method(client.service, name);
  if (!m) throw new GrpcError(GrpcStatus.UNIMPLEMENTED, `${client.service} has no method ${name}`);
  return m;
}

function serialize(m: MethodInfo, req: object): Buffer {
  try {
    return protos().encode(m.requestType, req);
  } catch (e) {
    throw new GrpcError(GrpcStatus.INTERNAL, `Request message serialization failure: ${(e as Error).message}`);
  }
}

function deserialize<T>(m: MethodInfo, b: Buffer): T {
  try {
    return protos().decode(m.responseType, b) as T;
  } catch (e) {
    throw new GrpcError(GrpcStatus.INTERNAL, `Response message parsing error: ${(e as Error).message}`);
  }
}

/** Calls a unary method by name and resolves with its response (deadline in seconds; `signal` cancels the call, as a client's cancel does). */
export async function call<D, K extends MethodName<D>>(
  client: ServiceClient<D>,
  method: K,
  req: ReqOf<D[K]>,
  deadlineSeconds = 120,
  signal?: AbortSignal,
): Promise<ResOf<D[K]>> {
  const m = methodOf(client, method);
  const reply = await client.channel.unary(m.path, serialize(m, req as object), Date.now() + deadlineSeconds * 1000, signal);
  return deserialize(m, reply);
}

/** Starts a server-streaming method by name: its responses as an object-mode stream (no deadline unless given). */
export function serverStream<D, K extends MethodName<D>>(
  client: ServiceClient<D>,
  method: K,
  req: ReqOf<D[K]>,
  deadlineSeconds?: number,
): ServerStream<ResOf<D[K]>> {
  const m = methodOf(client, method);
  const deadline = deadlineSeconds === undefined ? undefined : Date.now() + deadlineSeconds * 1000;
  return client.channel.serverStream(m.path, serialize(m, req as object), (b) => deserialize<ResOf<D[K]>>(m, b), deadline);
}
