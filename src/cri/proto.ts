import fs from 'node:fs';
import type * as grpc from '@grpc/grpc-js';
// The light build: no .proto parser (the JSON is parsed already), a third fewer modules to load.
import protobuf from 'protobufjs/light.js';
import { protosJsonFile } from './proto-files.js';

export { criProtoFile, cribProtoFile, protosJsonFile } from './proto-files.js';

// Field names stay as the proto spells them (snake_case), int64 travels as decimal strings
// (nanosecond timestamps exceed 2^53), enums as numbers: the shape of the wire fixtures' JSON.
// (proto-loader's options of the same names; scripts/gen-proto-types.sh generates the types so.)
export const criLoaderOptions = {
  keepCase: true,
  longs: String,
  enums: Number,
  defaults: true,
  arrays: true,
  objects: true,
  oneofs: true,
} as const;

const { keepCase: _parseTime, ...toObjectOptions } = criLoaderOptions;

/** protobufjs's writer gives a Buffer in Node already: no copy of it. */
export const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b));

/**
 * Replies encoded as their handler built them, without protobufjs' `fromObject` copy: the calls
 * kubelet makes for every pod each second (PLEG's relist, then the status of what changed). Their
 * converters (src/cri/sandbox-convert.ts, container-convert.ts) give enums as numbers and int64 as
 * decimal strings, which `encode` takes as they are (test/unit/reply-encoding.test.ts holds both
 * ways to the same bytes). Every other reply may name an enum by its string, which only
 * `fromObject` turns into its number.
 */
export const ENCODED_AS_BUILT: ReadonlySet<string> = new Set(
  ['ListPodSandbox', 'PodSandboxStatus', 'ListContainers', 'ContainerStatus'].map((m) => `/runtime.v1.RuntimeService/${m}`),
);

/**
 * A reply already in protobuf form (src/cri/encoded-replies.ts): the serializers of the
 * ENCODED_AS_BUILT methods send its bytes as they are.
 */
export class EncodedReply {
  constructor(readonly bytes: Buffer) {}
}

/**
 * `bytes` as the reply of type T a handler gives grpc-js: the one place where a reply is not the
 * object its type says, which only the serializers below ever see (they check for EncodedReply).
 */
export function encodedReply<T>(bytes: Buffer): T {
  return new EncodedReply(bytes) as unknown as T;
}

/** A CRI message type by its full name (`runtime.v1.Container`). */
export function criType(fullName: string): protobuf.Type {
  return loadRoot().lookupType(fullName);
}

/**
 * A service's methods as grpc-js takes them, with the (de)serializers proto-loader would make.
 * proto-loader's own package definition also builds a descriptor of every message, for
 * reflection crib does not serve: that, and parsing the .proto files, were most of a CLI call.
 */
function serviceDefinition(service: protobuf.Service, fullName: string): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const m of service.methodsArray) {
    const req = m.resolvedRequestType as protobuf.Type;
    const res = m.resolvedResponseType as protobuf.Type;
    const path = `/${fullName}/${m.name}`;
    def[m.name] = {
      path,
      requestStream: !!m.requestStream,
      responseStream: !!m.responseStream,
      requestSerialize: (v: object) => asBuffer(req.encode(req.fromObject(v)).finish()),
      requestDeserialize: (b: Buffer) => req.toObject(req.decode(b), toObjectOptions),
      responseSerialize: ENCODED_AS_BUILT.has(path)
        ? (v: object) => (v instanceof EncodedReply ? v.bytes : asBuffer(res.encode(v).finish()))
        : (v: object) => asBuffer(res.encode(res.fromObject(v)).finish()),
      responseDeserialize: (b: Buffer) => res.toObject(res.decode(b), toObjectOptions),
      originalName: m.name.charAt(0).toLowerCase() + m.name.slice(1),
    };
  }
  return def;
}

const SERVICES = { runtime: 'runtime.v1.RuntimeService', image: 'runtime.v1.ImageService', cribImages: 'crib.v1.Images' } as const;

export type CriServiceDefinitions = Record<keyof typeof SERVICES, grpc.ServiceDefinition>;

let cached: CriServiceDefinitions | undefined;
let loaded: protobuf.Root | undefined;

function loadRoot(): protobuf.Root {
  if (!loaded) {
    loaded = protobuf.Root.fromJSON(JSON.parse(fs.readFileSync(protosJsonFile, 'utf8')) as protobuf.INamespace);
    loaded.resolveAll();
  }
  return loaded;
}

/** The CRI (runtime.v1) and crib's own (crib.v1) services, loaded together. */
export function criServices(): CriServiceDefinitions {
  if (!cached) {
    const root = loadRoot();
    const one = (name: string) => serviceDefinition(root.lookupService(name), name);
    cached = { runtime: one(SERVICES.runtime), image: one(SERVICES.image), cribImages: one(SERVICES.cribImages) };
  }
  return cached;
}

/** The services by full name, as grpc.loadPackageDefinition takes them (the CLI's clients). */
export function criPackageDefinition(): Record<string, grpc.ServiceDefinition> {
  const s = criServices();
  return { [SERVICES.runtime]: s.runtime, [SERVICES.image]: s.image, [SERVICES.cribImages]: s.cribImages };
}
