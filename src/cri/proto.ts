import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { repoRoot } from '../util/paths.js';

export const criProtoFile = path.join(repoRoot, 'proto', 'runtime', 'v1', 'api.proto');
export const cribProtoFile = path.join(repoRoot, 'proto', 'crib', 'v1', 'images.proto');

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

/** The CRI (runtime.v1) and crib's own (crib.v1) services, loaded together. */
export function criPackageDefinition(): protoLoader.PackageDefinition {
  cached ??= protoLoader.loadSync([criProtoFile, cribProtoFile], criLoaderOptions);
  return cached;
}

export interface CriServiceDefinitions {
  runtime: grpc.ServiceDefinition;
  image: grpc.ServiceDefinition;
  cribImages: grpc.ServiceDefinition;
}

export function criServices(): CriServiceDefinitions {
  const def = criPackageDefinition();
  return {
    runtime: def['runtime.v1.RuntimeService'] as grpc.ServiceDefinition,
    image: def['runtime.v1.ImageService'] as grpc.ServiceDefinition,
    cribImages: def['crib.v1.Images'] as grpc.ServiceDefinition,
  };
}
