import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { repoRoot } from '../util/paths.js';

export const criProtoFile = path.join(repoRoot, 'proto', 'runtime', 'v1', 'api.proto');

// Field names stay as the proto spells them (snake_case), int64 travels as decimal strings
// (nanosecond timestamps exceed 2^53), enums as numbers: the shape of the wire fixtures' JSON.
export const criLoaderOptions: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: Number,
  defaults: true,
  arrays: true,
  objects: true,
  oneofs: true,
};

let cached: protoLoader.PackageDefinition | undefined;

export function criPackageDefinition(): protoLoader.PackageDefinition {
  cached ??= protoLoader.loadSync(criProtoFile, criLoaderOptions);
  return cached;
}

export interface CriServiceDefinitions {
  runtime: grpc.ServiceDefinition;
  image: grpc.ServiceDefinition;
}

export function criServices(): CriServiceDefinitions {
  const def = criPackageDefinition();
  return {
    runtime: def['runtime.v1.RuntimeService'] as grpc.ServiceDefinition,
    image: def['runtime.v1.ImageService'] as grpc.ServiceDefinition,
  };
}
