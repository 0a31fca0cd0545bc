/**
 * apache.rocketmq.v2.MessagingService handlers: a thin translation of the embedded broker's API
 * (producer send, POP receive / ack / changeInvisibleDuration, transactions) onto the wire.
 * Every application error is a gRPC OK carrying a v2 Status (status.ts); only a broken server
 * answers with a gRPC error.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Broker } from '../broker/broker.js';
import type { SubscriberSpec } from '../broker/delivery-service.js';
import { BrokerError } from '../broker/errors.js';
import type { Producer, Transaction } from '../broker/producer.js';
import { buildSpec } from '../broker/simple-consumer.js';
import type { MessageView } from '../broker/types.js';
import {
  type Duration,
  type Endpoints,
  fromMs,
  MessageTypeV2,
  messageQueues,
  namespaceOf,
  resourceName,
  toMs,
  toSendMessage,
  toWireMessage,
  type WireMessage,
} from './convert.js';
import type { ServiceMetrics } from './metrics.js';
import { UndecodableRequest } from './proto.js';
import { Code, OK, ProtocolError, type Status, status, statusOf } from './status.js';
import { type ClientSettings, settingsReply } from './telemetry.js';

// biome-ignore lint/suspicious/noExplicitAny: decoded protobuf objects are plain JS objects
type Req = any;
type Unary = grpc.ServerUnaryCall<Req, object>;
type Reply = grpc.sendUnaryData<object>;

/** Default invisible time of a receive that names none (push consumers with auto-renew). */
const DEFAULT_INVISIBLE_MS = 60_000;
/** Default long-polling time when the request names none. */
const DEFAULT_POLL_MS = 20_000;
/** Answer a long poll this long before the client's deadline. */
const DEADLINE_MARGIN_MS = 1000;
/** Longest long poll, whatever the request asks (RocketMQ's proxy clamps too). */
const MAX_POLL_MS = 30_000;
/** Most messages in one SendMessage and entries in one AckMessage (the official client sends 1). */
const MAX_BATCH_ENTRIES = 1024;
/**
 * Producers, subscriber specs and open transactions kept per client id / group / id; past this
 * the oldest is dropped (a dropped one is rebuilt on next use; a transaction is still ended by
 * its id), so hostile clients cannot grow the server's memory without bound.
 */
const MAX_CACHED = 4096;
/** Longest tag filter expression accepted (tags are short; this bounds the spec cache too). */
const MAX_FILTER_CHARS = 16 * 1024;

export interface ServiceContext {
  readonly broker: Broker;
  /** host:port clients use when a request carries no endpoints. */
  readonly endpoints: () => Endpoints;
  readonly closing: () => boolean;
  /** Message counts for Prometheus (srv-ops); absent: nothing is counted. */
  readonly metrics?: ServiceMetrics | undefined;
  /**
   * Authentication and authorization of one request (a Telemetry command counts as one):
   * throws a ProtocolError (UNAUTHORIZED / FORBIDDEN) to refuse it. Absent: everything is allowed.
   */
  readonly authorize?: (call: { metadata: grpc.Metadata }, method: string, request: unknown) => void;
  /** Settings of a consumer group (broker name) from the server's configuration. */
  readonly groupSettings?: (group: string) => GroupSettings;
}

/** A consumer group's configured settings; unset fields take the broker's defaults. */
export interface GroupSettings {
  fifo?: boolean;
  maxDeliveryAttempts?: number;
}

export class MessagingService {
  private readonly producers = new Map<string, Producer>();
  private readonly specs = new Map<string, SubscriberSpec>();
  private readonly transactions = new Map<string, Transaction>();
  private readonly telemetry = new Set<grpc.ServerDuplexStream<Req, object>>();

  constructor(private readonly ctx: ServiceContext) {}

  /** The handler table passed to grpc.Server.addService. */
  handlers(): grpc.UntypedServiceImplementation {
    const unary =
      (fn: (call: Unary) => Promise<object>, method: string) =>
      (call: Unary, reply: Reply): void => {
        (call.request instanceof UndecodableRequest
          ? Promise.reject(undecodable(call.request))
          : this.authorized(call, method, call.request).then(() => fn.call(this, call))
        ).then(
          (res) => reply(null, res),
          (err: unknown) => reply(null, { status: statusOf(err) }),
        );
      };
    return {
      QueryRoute: unary(this.queryRoute, 'QueryRoute'),
      Heartbeat: unary(this.heartbeat, 'Heartbeat'),
      SendMessage: unary(this.sendMessage, 'SendMessage'),
      QueryAssignment: unary(this.queryAssignment, 'QueryAssignment'),
      ReceiveMessage: (call: grpc.ServerWritableStream<Req, object>) => {
        (call.request instanceof UndecodableRequest
          ? Promise.reject(undecodable(call.request))
          : this.authorized(call, 'ReceiveMessage', call.request)
        )
          .then(() => this.receiveMessage(call))
          .catch((err: unknown) => {
            if (!call.cancelled) call.write({ status: statusOf(err) });
            call.end();
          });
      },
      AckMessage: unary(this.ackMessage, 'AckMessage'),
      EndTransaction: unary(this.endTransaction, 'EndTransaction'),
      Telemetry: (call: grpc.ServerDuplexStream<Req, object>) => this.telemetryStream(call),
      NotifyClientTermination: unary(this.notifyClientTermination, 'NotifyClientTermination'),
      ChangeInvisibleDuration: unary(this.changeInvisibleDuration, 'ChangeInvisibleDuration'),
      RecallMessage: unary(this.recallMessage, 'RecallMessage'),
    };
  }

  /** Runs the authorize hook; a refusal rejects with the ProtocolError to answer. */
  private authorized(call: { metadata: grpc.Metadata }, method: string, request: unknown): Promise<void> {
    return new Promise((resolve) => {
      this.ctx.authorize?.(call, method, request);
      resolve();
    });
  }

  /** End every open Telemetry stream (server shutdown). */
  endTelemetry(): void {
    for (const call of this.telemetry) call.end();
    this.telemetry.clear();
  }

  private async queryRoute(call: Unary): Promise<object> {
    const r = call.request;
    const ns = namespaceOf(call);
    const info = this.ctx.broker.resolveTopic(resourceName(r.topic, ns));
    const endpoints: Endpoints = r.endpoints?.addresses?.length ? r.endpoints : this.ctx.endpoints();
    return { status: OK, messageQueues: messageQueues(info, ns, endpoints) };
  }

  private async heartbeat(call: Unary): Promise<object> {
    clientIdOf(call);
    return { status: OK };
  }

  private async queryAssignment(call: Unary): Promise<object> {
    const r = call.request;
    const ns = namespaceOf(call);
    const info = this.ctx.broker.resolveTopic(resourceName(r.topic, ns));
    const endpoints: Endpoints = r.endpoints?.addresses?.length ? r.endpoints : this.ctx.endpoints();
    const [q] = messageQueues({ ...info, queues: 1 }, ns, endpoints) as Record<string, unknown>[];
    return { status: OK, assignments: [{ messageQueue: { ...q, id: -1 } }] };
  }

  private async sendMessage(call: Unary): Promise<object> {
    const clientId = clientIdOf(call);
    const messages: WireMessage[] = call.request.messages ?? [];
    if (messages.length === 0) return { status: status(Code.BAD_REQUEST, 'no messages to send.') };
    const tooLarge = checkSendBatch(messages, this.ctx.broker.settings.maxBodyBytes);
    if (tooLarge) return { status: tooLarge };
    const producer = this.producerFor(clientId);
    const entries = await Promise.all(
      messages.map(async (m) => {
        try {
          if (!m.systemProperties?.messageId?.trim()) {
            throw new ProtocolError(Code.ILLEGAL_MESSAGE_ID, 'system_properties.message_id is blank.');
          }
          const tx = m.systemProperties.messageType === MessageTypeV2.TRANSACTION;
          const transaction = tx ? producer.beginTransaction() : undefined;
          const receipt = await producer.send(toSendMessage(m, namespaceOf(call)), transaction);
          if (transaction) remember(this.transactions, receipt.transactionId, transaction);
          this.ctx.metrics?.sent(resourceName(m.topic, namespaceOf(call)), 1, m.body?.length ?? 0);
          return {
            status: OK,
            messageId: receipt.messageId,
            transactionId: receipt.transactionId,
            offset: receipt.offset,
            recallHandle: receipt.recallHandle,
          };
        } catch (err) {
          return { status: statusOf(err), messageId: m.systemProperties?.messageId ?? '' };
        }
      }),
    );
    return { status: combined(entries.map((e) => e.status)), entries };
  }

  private async receiveMessage(call: grpc.ServerWritableStream<Req, object>): Promise<void> {
    const r = call.request;
    const ns = namespaceOf(call);
    const group = resourceName(r.group, ns);
    const topic = resourceName(r.messageQueue?.topic, ns);
    const expression: string = r.filterExpression?.expression ?? '*';
    if (r.filterExpression?.type === 2) {
      throw new BrokerError('ILLEGAL_FILTER_EXPRESSION', 'SQL filters are not supported; use a TAG filter.');
    }
    if (expression.length > MAX_FILTER_CHARS) {
      throw new BrokerError(
        'ILLEGAL_FILTER_EXPRESSION',
        `the filter expression has ${expression.length} characters; at most ${MAX_FILTER_CHARS}.`,
      );
    }
    const spec = this.specFor(group, topic, expression);
    const invisibleMs = durationMs(r.invisibleDuration) ?? DEFAULT_INVISIBLE_MS;
    let awaitMs = Math.min(durationMs(r.longPollingTimeout) ?? DEFAULT_POLL_MS, MAX_POLL_MS);
    const deadline = call.getDeadline();
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : Number(deadline);
    if (Number.isFinite(deadlineMs))
      awaitMs = Math.min(awaitMs, deadlineMs - Date.now() - DEADLINE_MARGIN_MS);
    const batch = Math.max(1, Math.min(r.batchSize || 32, 1024));
    const views = await this.ctx.broker.delivery.receive(
      spec,
      batch,
      invisibleMs,
      Math.max(0, awaitMs),
      () => call.cancelled || this.ctx.closing(),
    );
    if (call.cancelled) {
      await this.release(spec, views);
      return;
    }
    if (views.length === 0) {
      call.write({ status: status(Code.MESSAGE_NOT_FOUND, 'no new message') });
      call.end();
      return;
    }
    call.write({ status: OK });
    let bytes = 0;
    for (const v of views) {
      call.write({ message: toWireMessage(v, ns, invisibleMs) });
      bytes += v.body.length;
    }
    this.ctx.metrics?.received(group, topic, views.length, bytes);
    call.write({ deliveryTimestamp: fromMs(Date.now()) });
    call.end();
  }

  /** Messages claimed for a call that went away become visible again at once. */
  private async release(spec: SubscriberSpec, views: MessageView[]): Promise<void> {
    await Promise.allSettled(
      views.map((v) => this.ctx.broker.delivery.changeInvisibleDuration(spec, v.receiptHandle, 0)),
    );
  }

  private async ackMessage(call: Unary): Promise<object> {
    const r = call.request;
    const group = resourceName(r.group, namespaceOf(call));
    const spec = this.specFor(group, undefined, '*');
    const requested: { messageId?: string; receiptHandle?: string }[] = r.entries ?? [];
    if (requested.length === 0) return { status: status(Code.BAD_REQUEST, 'no entries to ack.') };
    if (requested.length > MAX_BATCH_ENTRIES) {
      return {
        status: status(
          Code.PAYLOAD_TOO_LARGE,
          `${requested.length} entries to ack; at most ${MAX_BATCH_ENTRIES} per request.`,
        ),
      };
    }
    let acked = 0;
    const entries = await Promise.all(
      requested.map(async (e) => {
        let s: Status = OK;
        try {
          await this.ctx.broker.delivery.ack(spec, e.receiptHandle ?? '');
          acked++;
        } catch (err) {
          s = statusOf(err);
        }
        return { messageId: e.messageId ?? '', receiptHandle: e.receiptHandle ?? '', status: s };
      }),
    );
    this.ctx.metrics?.acked(group, acked);
    return { status: combined(entries.map((e) => e.status)), entries };
  }

  private async changeInvisibleDuration(call: Unary): Promise<object> {
    const r = call.request;
    const spec = this.specFor(resourceName(r.group, namespaceOf(call)), undefined, '*');
    const ms = durationMs(r.invisibleDuration);
    if (ms === undefined)
      return { status: status(Code.ILLEGAL_INVISIBLE_TIME, 'invisible_duration is required.') };
    const handle = await this.ctx.broker.delivery.changeInvisibleDuration(spec, r.receiptHandle ?? '', ms);
    return { status: OK, receiptHandle: handle };
  }

  private async endTransaction(call: Unary): Promise<object> {
    const r = call.request;
    const id: string = r.transactionId ?? '';
    if (id.trim() === '') return { status: status(Code.INVALID_TRANSACTION_ID, 'transaction_id is blank.') };
    const resolution = r.resolution === 1 ? 'commit' : r.resolution === 2 ? 'rollback' : undefined;
    if (!resolution) return { status: status(Code.BAD_REQUEST, 'resolution must be COMMIT or ROLLBACK.') };
    const tx = this.transactions.get(id);
    this.transactions.delete(id);
    if (tx) await (resolution === 'commit' ? tx.commit() : tx.rollback());
    else await this.producerFor(clientIdOf(call)).endTransaction(id, resolution);
    return { status: OK };
  }

  private async recallMessage(call: Unary): Promise<object> {
    const r = call.request;
    const receipt = await this.producerFor(clientIdOf(call)).recall(
      resourceName(r.topic, namespaceOf(call)),
      r.recallHandle ?? '',
    );
    return { status: OK, messageId: receipt.messageId };
  }

  private async notifyClientTermination(call: Unary): Promise<object> {
    const id = call.metadata.get('x-mq-client-id')[0];
    if (typeof id === 'string') {
      const p = this.producers.get(id);
      this.producers.delete(id);
      await p?.close();
    }
    return { status: OK };
  }

  private telemetryStream(call: grpc.ServerDuplexStream<Req, object>): void {
    this.telemetry.add(call);
    const limits = {
      maxBodyBytes: this.ctx.broker.settings.maxBodyBytes,
      maxDeliveryAttempts: this.ctx.broker.settings.groupDefaults.maxDeliveryAttempts,
    };
    call.on('data', (cmd: { settings?: ClientSettings } | UndecodableRequest) => {
      if (cmd instanceof UndecodableRequest) {
        call.write({ status: statusOf(undecodable(cmd)) });
        return;
      }
      try {
        this.ctx.authorize?.(call, 'Telemetry', cmd);
      } catch (err) {
        // A status-only command: the client's startup() rejects with the mapped exception.
        call.write({ status: statusOf(err) });
        return;
      }
      if (cmd.settings) call.write(settingsReply(cmd.settings, limits));
    });
    call.on('end', () => {
      this.telemetry.delete(call);
      call.end();
    });
    call.on('error', () => this.telemetry.delete(call));
    call.on('cancelled', () => this.telemetry.delete(call));
  }

  private producerFor(clientId: string): Producer {
    let p = this.producers.get(clientId);
    if (!p || p.isClosed) {
      p = this.ctx.broker.producer({ clientId });
      const evicted = remember(this.producers, clientId, p);
      evicted?.close().catch(() => {});
    }
    return p;
  }

  /** A clustering subscriber of `group` on `topic` with a tag filter (validated by the broker). */
  private specFor(group: string, topic: string | undefined, expression: string): SubscriberSpec {
    const key = `${group}\n${topic ?? ''}\n${expression}`;
    let spec = this.specs.get(key);
    if (!spec) {
      spec = buildSpec(this.ctx.broker, {
        consumerGroup: group,
        subscriptions: topic === undefined ? {} : { [topic]: expression },
      });
      remember(this.specs, key, spec);
    }
    return spec;
  }
}

function clientIdOf(call: { metadata: grpc.Metadata }): string {
  const id = call.metadata.get('x-mq-client-id')[0];
  if (typeof id !== 'string' || id === '') {
    throw new ProtocolError(Code.CLIENT_ID_REQUIRED, 'the x-mq-client-id header is required.');
  }
  return id;
}

/** The status for a request whose bytes did not decode. */
function undecodable(r: UndecodableRequest): ProtocolError {
  return new ProtocolError(Code.BAD_REQUEST, `the request could not be decoded: ${r.reason}.`);
}

/**
 * Limits of one SendMessage beyond the per-message ones the broker checks: at most
 * MAX_BATCH_ENTRIES messages, and several messages together no larger than one message may be
 * (as RocketMQ limits a batch). Checked before anything is written.
 */
function checkSendBatch(messages: WireMessage[], maxBodyBytes: number): Status | undefined {
  if (messages.length > MAX_BATCH_ENTRIES) {
    return status(
      Code.PAYLOAD_TOO_LARGE,
      `${messages.length} messages in one request; send at most ${MAX_BATCH_ENTRIES} per request.`,
    );
  }
  if (messages.length === 1) return undefined;
  let total = 0;
  for (const m of messages) total += m.body?.length ?? 0;
  if (total > maxBodyBytes) {
    return status(
      Code.PAYLOAD_TOO_LARGE,
      `the ${messages.length} bodies take ${total} bytes together; a request may carry at most ${maxBodyBytes}.`,
    );
  }
  return undefined;
}

/** Map insert that drops the oldest entry past MAX_CACHED; returns what was dropped. */
function remember<V>(map: Map<string, V>, key: string, value: V): V | undefined {
  let dropped: V | undefined;
  if (!map.has(key) && map.size >= MAX_CACHED) {
    const oldest = map.keys().next().value as string;
    dropped = map.get(oldest);
    map.delete(oldest);
  }
  map.set(key, value);
  return dropped;
}

function durationMs(d: Duration | undefined | null): number | undefined {
  return toMs(d);
}

/** One status for a batch: the common code, or MULTIPLE_RESULTS when entries differ. */
function combined(statuses: Status[]): Status {
  const first = statuses[0] ?? OK;
  return statuses.every((s) => s.code === first.code)
    ? first
    : status(Code.MULTIPLE_RESULTS, 'mixed results');
}
