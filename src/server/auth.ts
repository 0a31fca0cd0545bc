/**
 * Request authentication and authorization for `tidemq serve --acl`.
 *
 * Authentication (MQv2-HMAC-SHA1, as the RocketMQ 5 clients sign every call, Telemetry
 * included): the `authorization` header reads
 *   `MQv2-HMAC-SHA1 Credential=<accessKey>[/…], SignedHeaders=x-mq-date-time, Signature=<hex>`
 * and the signature is HMAC-SHA1, keyed with the account's secret key, over the exact
 * `x-mq-date-time` header value. We recompute it and compare in constant time. Like RocketMQ we
 * do not bound the date's age (the clients sign a Telemetry stream once, when it opens); use TLS
 * so that a signed header cannot be read off the wire and replayed. Any failure is UNAUTHORIZED
 * (40100) with the same message, so a caller cannot probe which access keys exist.
 *
 * Authorization: each method names the topics and groups it touches (read through the same
 * namespace mapping as the handlers) and the account must be allowed each of them, or the
 * request is FORBIDDEN (40300). Methods this table does not know need an admin account.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import type { Acl, AclAccount, Permission } from './acl.js';
import { namespaceOf, type Resource, resourceName } from './convert.js';
import { Code, ProtocolError } from './status.js';

const SCHEME = 'MQv2-HMAC-SHA1';
const SHA1_BYTES = 20;
/** Keyed with this when the access key is unknown, so both failures cost the same. */
const DUMMY_KEY = Buffer.from('tidemq-unknown-access-key');

// biome-ignore lint/suspicious/noExplicitAny: decoded protobuf objects are plain JS objects
type Req = any;
/** Either permission suffices (QueryRoute serves producers and consumers alike). */
type Need = [Permission | 'publish|subscribe', string];

export class Authorizer {
  constructor(private readonly acl: Acl) {}

  /** The ServiceContext.authorize hook: throws a ProtocolError to refuse the request. */
  authorize(call: { metadata: grpc.Metadata }, method: string, request: unknown): void {
    const account = this.authenticate(call.metadata);
    if (account.admin) return;
    const needs = requirements(call, method, request as Req);
    if (needs === undefined) {
      throw new ProtocolError(
        Code.FORBIDDEN,
        `${method} needs an admin account; ${account.accessKey} is not one.`,
      );
    }
    for (const [permission, name] of needs) {
      const ok =
        permission === 'publish|subscribe'
          ? account.may('publish', name) || account.may('subscribe', name)
          : account.may(permission, name);
      if (!ok) {
        throw new ProtocolError(
          Code.FORBIDDEN,
          `account ${account.accessKey} may not ${verb(permission)} ${name}: add it to the account's "${
            permission === 'publish|subscribe' ? 'publish" or "subscribe' : permission
          }" list in the ACL file.`,
        );
      }
    }
  }

  /** The account whose secret signed this call's `x-mq-date-time`. */
  authenticate(metadata: grpc.Metadata): AclAccount {
    const header = metadata.get('authorization')[0];
    const dateTime = metadata.get('x-mq-date-time')[0];
    if (typeof header !== 'string' || header === '' || typeof dateTime !== 'string' || dateTime === '') {
      throw unauthorized(
        'this server requires credentials: pass sessionCredentials { accessKey, accessSecret }.',
      );
    }
    const parsed = parseAuthorization(header);
    if (!parsed) throw unauthorized(`the authorization header is not "${SCHEME} Credential=…, Signature=…".`);
    const account = this.acl.account(parsed.accessKey);
    const expected = createHmac('sha1', account?.secret ?? DUMMY_KEY)
      .update(dateTime, 'utf8')
      .digest();
    const given = Buffer.from(parsed.signature, 'hex');
    const match =
      given.length === SHA1_BYTES &&
      /^[0-9a-fA-F]+$/.test(parsed.signature) &&
      timingSafeEqual(expected, given);
    if (!account || !match) throw unauthorized('unknown access key or wrong secret key.');
    return account;
  }
}

/** `Credential` (up to any `/`) and `Signature` of an MQv2-HMAC-SHA1 header, or undefined. */
export function parseAuthorization(header: string): { accessKey: string; signature: string } | undefined {
  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space) !== SCHEME) return undefined;
  let accessKey: string | undefined;
  let signature: string | undefined;
  for (const part of header.slice(space + 1).split(',')) {
    const item = part.trim();
    const eq = item.indexOf('=');
    if (eq < 0) return undefined;
    const key = item.slice(0, eq);
    const value = item.slice(eq + 1);
    if (key === 'Credential') accessKey = value.split('/')[0];
    else if (key === 'Signature') signature = value;
  }
  if (!accessKey || !signature) return undefined;
  return { accessKey, signature };
}

function unauthorized(message: string): ProtocolError {
  return new ProtocolError(Code.UNAUTHORIZED, message);
}

function verb(p: Need[0]): string {
  return p === 'publish'
    ? 'publish to topic'
    : p === 'subscribe'
      ? 'subscribe to topic'
      : p === 'groups'
        ? 'use consumer group'
        : 'route topic';
}

/** The topics and groups a request touches (broker names), or undefined for admin-only methods. */
function requirements(call: { metadata: grpc.Metadata }, method: string, r: Req): Need[] | undefined {
  // Read the namespace once, and only when a name is needed (a bad header throws).
  let ns: string | undefined;
  const name = (resource: Resource | undefined | null): string => {
    if (ns === undefined) ns = namespaceOf(call);
    return resourceName(resource, ns);
  };
  const consume = (): Need[] => [
    ['subscribe', name(r?.topic ?? r?.messageQueue?.topic)],
    ['groups', name(r?.group)],
  ];
  switch (method) {
    case 'QueryRoute':
      return [['publish|subscribe', name(r?.topic)]];
    case 'SendMessage':
      return ((r?.messages ?? []) as { topic?: Resource }[]).map((m) => ['publish', name(m.topic)]);
    case 'EndTransaction':
    case 'RecallMessage':
      return [['publish', name(r?.topic)]];
    case 'QueryAssignment':
    case 'ReceiveMessage':
    case 'AckMessage':
    case 'ChangeInvisibleDuration':
    case 'ForwardMessageToDeadLetterQueue':
    case 'PullMessage':
    case 'UpdateOffset':
    case 'GetOffset':
    case 'QueryOffset':
      return consume();
    case 'Heartbeat':
      return r?.group?.name ? [['groups', name(r.group)]] : [];
    case 'NotifyClientTermination':
      return [];
    case 'Telemetry':
      return telemetryRequirements(r, name);
    default:
      return undefined;
  }
}

/** A Settings command names the producer's topics, or the consumer's group and topics. */
function telemetryRequirements(cmd: Req, name: (r: Resource | undefined | null) => string): Need[] {
  const settings = cmd?.settings;
  if (!settings) return [];
  const needs: Need[] = [];
  for (const t of (settings.publishing?.topics ?? []) as Resource[]) needs.push(['publish', name(t)]);
  const sub = settings.subscription;
  if (sub) {
    if (sub.group?.name) needs.push(['groups', name(sub.group)]);
    for (const s of (sub.subscriptions ?? []) as { topic?: Resource }[])
      needs.push(['subscribe', name(s.topic)]);
  }
  return needs;
}
