/**
 * Translation between apache.rocketmq.v2 wire objects (as decoded by @grpc/proto-loader with
 * camelCase names, numeric enums and longs as numbers) and the embedded broker's shapes.
 */
import { hash } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import type { MessageView, SendMessage, TopicInfo, TopicType } from '../broker/types.js';
import { Code, ProtocolError } from './status.js';

/** apache.rocketmq.v2.MessageType */
export const MessageTypeV2 = { NORMAL: 1, FIFO: 2, DELAY: 3, TRANSACTION: 4 } as const;
/** apache.rocketmq.v2.FilterType */
export const FilterTypeV2 = { TAG: 1, SQL: 2 } as const;
/** apache.rocketmq.v2.Permission */
const READ_WRITE = 4;
/** apache.rocketmq.v2.DigestType */
const MD5 = 2;
/** apache.rocketmq.v2.Encoding */
const IDENTITY = 1;

export interface Timestamp {
  seconds?: number | string;
  nanos?: number;
}
export type Duration = Timestamp;

export interface Resource {
  name?: string;
  resourceNamespace?: string;
}

export interface Endpoints {
  scheme?: number;
  addresses?: { host?: string; port?: number }[];
}

export interface WireMessage {
  topic?: Resource;
  userProperties?: Record<string, string>;
  systemProperties?: {
    tag?: string;
    keys?: string[];
    messageId?: string;
    messageType?: number;
    bornTimestamp?: Timestamp;
    bornHost?: string;
    deliveryTimestamp?: Timestamp;
    messageGroup?: string;
  };
  body?: Buffer;
}

/** Namespaces: letters, digits, `_` and `-` (no `%`, which separates it from the name). */
const NAMESPACE_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;
/** Prefixes of the broker's retry and dead-letter topics; the namespace goes after them. */
const SYSTEM_PREFIXES = ['%DLQ%', '%RETRY%'] as const;

/**
 * The namespace of a request: the `x-mq-namespace` header, or none. `Resource.resource_namespace`
 * is ignored: the clients fill it on some requests only, and the header is on every call they
 * make in a namespace. One source for every field keeps the handlers and the authorization check
 * (auth.ts) reading the same names.
 */
export function namespaceOf(call: { metadata: grpc.Metadata }): string {
  const header = call.metadata.get('x-mq-namespace')[0];
  const ns = typeof header === 'string' ? header : '';
  if (ns !== '' && !NAMESPACE_PATTERN.test(ns)) {
    throw new ProtocolError(
      Code.BAD_REQUEST,
      `namespace ${JSON.stringify(ns)} is not valid: use 1 to 64 characters from [A-Za-z0-9_-].`,
    );
  }
  return ns;
}

/**
 * The broker's name of a wire topic or group: `<namespace>%<name>` inside a namespace
 * (RocketMQ's convention; `%DLQ%<namespace>%<group>` for dead-letter and retry topics), the
 * plain name outside one. Every handler reads Resource names through this function.
 */
export function resourceName(resource: Resource | undefined | null, namespace: string): string {
  const name = resource?.name ?? '';
  const bare = SYSTEM_PREFIXES.reduce((n, p) => (n.startsWith(p) ? n.slice(p.length) : n), name);
  if (bare.indexOf('%', 1) !== -1) {
    // `<namespace>%<name>` is how namespaces are stored: a wire name must not spell one out
    // (a leading '%' cannot, and unknown %-topics stay TOPIC_NOT_FOUND).
    throw new ProtocolError(
      Code.BAD_REQUEST,
      `resource name ${JSON.stringify(name.slice(0, 200))} contains '%', which is reserved for namespaces: name the namespace in the x-mq-namespace header (the client's namespace option).`,
    );
  }
  if (namespace === '' || name === '') return name;
  for (const prefix of SYSTEM_PREFIXES) {
    if (name.startsWith(prefix)) return `${prefix}${namespace}%${name.slice(prefix.length)}`;
  }
  return `${namespace}%${name}`;
}

/** The wire Resource for a broker name: the name the client used, and its namespace. */
export function wireResource(name: string, namespace: string): Resource {
  if (namespace === '') return { name, resourceNamespace: '' };
  const inner = `${namespace}%`;
  for (const prefix of SYSTEM_PREFIXES) {
    if (name.startsWith(prefix + inner)) {
      return { name: prefix + name.slice(prefix.length + inner.length), resourceNamespace: namespace };
    }
  }
  return { name: name.startsWith(inner) ? name.slice(inner.length) : name, resourceNamespace: namespace };
}

export function toMs(t: Timestamp | undefined | null): number | undefined {
  if (!t) return undefined;
  return Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

export function fromMs(ms: number): Timestamp {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round(ms - seconds * 1000) * 1e6 };
}

/** Message types a topic of this type accepts, as v2 enum values. */
function acceptTypes(type: TopicType): number[] {
  switch (type) {
    case 'NORMAL':
    case 'PRIORITY':
      return [MessageTypeV2.NORMAL];
    case 'FIFO':
      return [MessageTypeV2.FIFO];
    case 'DELAY':
      return [MessageTypeV2.DELAY];
    case 'TRANSACTION':
      return [MessageTypeV2.TRANSACTION];
    default:
      return [MessageTypeV2.NORMAL, MessageTypeV2.FIFO, MessageTypeV2.DELAY, MessageTypeV2.TRANSACTION];
  }
}

/** The route's queues of a topic: all on this one broker, all readable and writable. */
export function messageQueues(info: TopicInfo, namespace: string, endpoints: Endpoints): object[] {
  const broker = { name: 'broker-0', id: 0, endpoints };
  const accept = acceptTypes(info.type);
  const out: object[] = [];
  for (let id = 0; id < info.queues; id++) {
    out.push({
      topic: wireResource(info.name, namespace),
      id,
      permission: READ_WRITE,
      broker,
      acceptMessageTypes: accept,
    });
  }
  return out;
}

/** A v2 message from SendMessage as a broker send (the client's message id is kept). */
export function toSendMessage(m: WireMessage, namespace: string): SendMessage {
  const sp = m.systemProperties ?? {};
  const out: SendMessage = {
    topic: resourceName(m.topic, namespace),
    body: m.body ?? Buffer.alloc(0),
    properties: m.userProperties ?? {},
  };
  if (sp.messageId !== undefined) out.messageId = sp.messageId;
  if (sp.tag !== undefined) out.tag = sp.tag;
  if (sp.keys !== undefined && sp.keys.length > 0) out.keys = sp.keys;
  if (sp.messageGroup !== undefined) out.messageGroup = sp.messageGroup;
  const born = toMs(sp.bornTimestamp);
  if (born !== undefined && born > 0) out.bornTimestamp = born;
  const deliverAt = toMs(sp.deliveryTimestamp);
  if (deliverAt !== undefined) out.deliveryTimestamp = deliverAt;
  return out;
}

/**
 * A broker MessageView as a delivered v2 message (MD5 body digest, upper-case hex). The type is
 * worked out from the view unless given (a transaction check-back sends TRANSACTION).
 */
export function toWireMessage(
  v: MessageView,
  namespace: string,
  invisibleMs: number,
  messageType?: number,
): object {
  const type =
    messageType ??
    (v.messageGroup !== undefined
      ? MessageTypeV2.FIFO
      : v.deliveryTimestamp !== undefined
        ? MessageTypeV2.DELAY
        : MessageTypeV2.NORMAL);
  const sp: Record<string, unknown> = {
    keys: v.keys,
    messageId: v.messageId,
    bodyDigest: { type: MD5, checksum: hash('md5', v.body, 'hex').toUpperCase() },
    bodyEncoding: IDENTITY,
    messageType: type,
    bornHost: v.bornHost,
    storeTimestamp: fromMs(v.storeTimestamp),
    storeHost: '127.0.0.1',
    receiptHandle: v.receiptHandle,
    queueId: v.queueId,
    queueOffset: v.offset,
    invisibleDuration: fromMs(invisibleMs),
    deliveryAttempt: Math.max(1, v.deliveryAttempt),
  };
  if (v.bornTimestamp) sp.bornTimestamp = fromMs(v.bornTimestamp.getTime());
  if (v.tag !== undefined) sp.tag = v.tag;
  if (v.messageGroup !== undefined) sp.messageGroup = v.messageGroup;
  if (v.deliveryTimestamp) sp.deliveryTimestamp = fromMs(v.deliveryTimestamp.getTime());
  return {
    topic: wireResource(v.topic, namespace),
    userProperties: Object.fromEntries(v.properties),
    systemProperties: sp,
    body: v.body,
  };
}
