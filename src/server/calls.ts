/**
 * What every MessagingService handler shares: the call types, reading the client id from a
 * call's metadata, the status of a batch, and the bounded caches that keep hostile clients from
 * growing the server's memory.
 */
import type * as grpc from '@grpc/grpc-js';
import type { UndecodableRequest } from './proto.js';
import { Code, OK, ProtocolError, type Status, status } from './status.js';

// biome-ignore lint/suspicious/noExplicitAny: decoded protobuf objects are plain JS objects
export type Req = any;
export type Unary = grpc.ServerUnaryCall<Req, object>;
export type Reply = grpc.sendUnaryData<object>;
export type ReceiveCall = grpc.ServerWritableStream<Req, object>;

/** Most messages in one SendMessage and entries in one AckMessage (the official client sends 1). */
export const MAX_BATCH_ENTRIES = 1024;
/**
 * Producers, subscriber specs and open transactions kept per client id / group / id; past this
 * the oldest is dropped (a dropped one is rebuilt on next use; a transaction is still ended by
 * its id), so hostile clients cannot grow the server's memory without bound.
 */
const MAX_CACHED = 4096;

export function optionalClientId(call: { metadata: grpc.Metadata }): string | undefined {
  const id = call.metadata.get('x-mq-client-id')[0];
  return typeof id === 'string' && id !== '' ? id : undefined;
}

export function clientIdOf(call: { metadata: grpc.Metadata }): string {
  const id = call.metadata.get('x-mq-client-id')[0];
  if (typeof id !== 'string' || id === '') {
    throw new ProtocolError(Code.CLIENT_ID_REQUIRED, 'the x-mq-client-id header is required.');
  }
  return id;
}

/** The status for a request whose bytes did not decode. */
export function undecodable(r: UndecodableRequest): ProtocolError {
  return new ProtocolError(Code.BAD_REQUEST, `the request could not be decoded: ${r.reason}.`);
}

/** Map insert that drops the oldest entry past MAX_CACHED; returns what was dropped. */
export function remember<V>(map: Map<string, V>, key: string, value: V): V | undefined {
  let dropped: V | undefined;
  if (!map.has(key) && map.size >= MAX_CACHED) {
    const oldest = map.keys().next().value as string;
    dropped = map.get(oldest);
    map.delete(oldest);
  }
  map.set(key, value);
  return dropped;
}

/** One status for a batch: the common code, or MULTIPLE_RESULTS when entries differ. */
export function combined(statuses: Status[]): Status {
  const first = statuses[0] ?? OK;
  return statuses.every((s) => s.code === first.code)
    ? first
    : status(Code.MULTIPLE_RESULTS, 'mixed results');
}
