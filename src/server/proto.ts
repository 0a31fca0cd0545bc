/**
 * The apache.rocketmq.v2 service definition, loaded at run time from the .proto files that ship
 * inside the installed rocketmq-client-nodejs package (never copied into this repository).
 *
 * The server serves a copy whose request decoders never throw: bytes that are not a valid
 * protobuf message of the request type become an UndecodableRequest, which the handlers answer
 * with a v2 BAD_REQUEST status (grpc-js alone would end the call with a bare INTERNAL error).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);

/** Decoding options: camelCase fields, numeric enums, int64 as numbers, oneof case names. */
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: Number,
  defaults: false,
  arrays: true,
  objects: true,
  oneofs: true,
};

let cached: grpc.ServiceDefinition | undefined;

/** Directory that holds apache/rocketmq/v2/*.proto. */
export function protoRoot(): string {
  return path.join(path.dirname(require.resolve('rocketmq-client-nodejs/package.json')), 'proto');
}

export function messagingServiceDefinition(): grpc.ServiceDefinition {
  if (cached) return cached;
  const root = protoRoot();
  const def = protoLoader.loadSync(path.join(root, 'apache/rocketmq/v2/service.proto'), {
    ...LOADER_OPTIONS,
    includeDirs: [root],
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    apache: { rocketmq: { v2: { MessagingService: grpc.ServiceClientConstructor } } };
  };
  cached = pkg.apache.rocketmq.v2.MessagingService.service;
  return cached;
}

/** A request whose bytes did not decode as the method's request message. */
export class UndecodableRequest {
  constructor(readonly reason: string) {}
}

/** messagingServiceDefinition() with lenient request decoders, for the server. */
export function servingDefinition(): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(messagingServiceDefinition())) {
    const decode = method.requestDeserialize;
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (err) {
          return new UndecodableRequest(err instanceof Error ? err.message : String(err));
        }
      },
    };
  }
  return out;
}
