// gRPC with raw Buffer messages, for servers and calls that need no protobuf.

import type * as grpc from '@grpc/grpc-js';

export function unaryMethod(methodPath: string): grpc.MethodDefinition<Buffer, Buffer> {
  const id = (b: Buffer) => b;
  return {
    path: methodPath,
    requestStream: false,
    responseStream: false,
    requestSerialize: id,
    requestDeserialize: id,
    responseSerialize: id,
    responseDeserialize: id,
  };
}

/** One unary call on `client`; resolves with the reply, rejects with the grpc error. */
export function unaryCall(client: grpc.Client, methodPath: string, message: Buffer, timeoutMs = 5000): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) =>
    client.makeUnaryRequest(
      methodPath,
      (b: Buffer) => b,
      (b: Buffer) => b,
      message,
      { deadline: Date.now() + timeoutMs },
      (err, value) => (err ? reject(err) : resolve(value!)),
    ),
  );
}
