/**
 * apache.rocketmq.v2.MessagingService handlers: a thin translation of the embedded broker's API
 * (producer send, POP receive / ack / changeInvisibleDuration / dead-lettering, transactions)
 * onto the wire. Every application error is a gRPC OK carrying a v2 Status (status.ts); only a
 * broken server answers with a gRPC error.
 *
 * Consumers: one broker SimpleConsumer per (group, topic, filter) does the receiving. It has no
 * settings of its own: FIFO, delivery attempts and retry backoff are the group's, read from the
 * broker (broker.configureGroup, persisted) at each use, so a group changed at run time (tidemq
 * admin configure-group) takes effect at once; push clients of the group get new Settings
 * (groupChanged). The long-polling time and cancellation are per call. Push consumers receive with `auto_renew`: their messages
 * are leased (leases.ts) until acked, nacked or dead-lettered.
 *
 * Telemetry: every Settings gets the server's Settings back; the session registry
 * (sessions.ts) remembers each client's streams, so transaction check-backs reach the producer
 * that sent the half message.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Broker } from '../broker/broker.js';
import { BrokerError } from '../broker/errors.js';
import type { Producer } from '../broker/producer.js';
import type { SimpleConsumer } from '../broker/simple-consumer.js';
import {
  type FilterExpression,
  type MessageView,
  type TransactionChecker,
  TransactionResolution,
} from '../broker/types.js';
import {
  type Duration,
  type Endpoints,
  FilterTypeV2,
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
import { Leases } from './leases.js';
import type { ServiceMetrics } from './metrics.js';
import { UndecodableRequest } from './proto.js';
import { ClientSessions, type TelemetryCall } from './sessions.js';
import { Code, OK, ProtocolError, type Status, status, statusOf } from './status.js';
import {
  type ClientSettings,
  isProducer,
  recoverCommand,
  type SettingsLimits,
  settingsReply,
} from './telemetry.js';

// biome-ignore lint/suspicious/noExplicitAny: decoded protobuf objects are plain JS objects
type Req = any;
type Unary = grpc.ServerUnaryCall<Req, object>;
type Reply = grpc.sendUnaryData<object>;

/** Invisible time of a receive that names none and does not auto-renew. */
const DEFAULT_INVISIBLE_MS = 60_000;
/** Default invisible time (and renewal step) of auto-renewed deliveries (push consumers). */
const DEFAULT_LEASE_MS = 60_000;
/** Default long-polling time when the request names none, and the one push consumers are told. */
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
/**
 * The first Settings reply of a stream is written again after these delays. A client with
 * several topics fetches their routes one by one, opens Telemetry after the first and only then
 * starts waiting for Settings: a reply that arrives before its last route is lost and startup()
 * never resolves (rocketmq-client-nodejs 1.0.8). A repeat is harmless: Settings may change any time.
 */
const SETTINGS_REPEAT_MS = [250, 1000, 3000];

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
  /** Invisible time of auto-renewed (push) deliveries, renewed while the client lives. */
  readonly leaseMs?: number;
  /** Long-polling time push consumers are told in Settings (they send none). */
  readonly pushLongPollingMs?: number;
}

export class MessagingService {
  /** Clients seen, with their Telemetry streams. */
  readonly sessions = new ClientSessions();
  private readonly producers = new Map<string, Producer>();
  private readonly consumers = new Map<string, SimpleConsumer>();
  private readonly receives = new Set<AbortController>();
  private readonly leases: Leases;

  constructor(private readonly ctx: ServiceContext) {
    this.leases = new Leases({
      leaseMs: ctx.leaseMs ?? DEFAULT_LEASE_MS,
      alive: (clientId) => this.sessions.alive(clientId),
    });
  }

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
      ForwardMessageToDeadLetterQueue: unary(
        this.forwardMessageToDeadLetterQueue,
        'ForwardMessageToDeadLetterQueue',
      ),
      EndTransaction: unary(this.endTransaction, 'EndTransaction'),
      Telemetry: (call: TelemetryCall) => this.telemetryStream(call),
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

  /** Server shutdown: end every Telemetry stream, answer parked long polls, stop renewing. */
  close(): void {
    this.sessions.endAll();
    for (const ac of this.receives) ac.abort();
    this.leases.stop();
  }

  private async queryRoute(call: Unary): Promise<object> {
    const r = call.request;
    const ns = namespaceOf(call);
    const info = this.ctx.broker.resolveTopic(resourceName(r.topic, ns));
    const endpoints: Endpoints = r.endpoints?.addresses?.length ? r.endpoints : this.ctx.endpoints();
    return { status: OK, messageQueues: messageQueues(info, ns, endpoints) };
  }

  private async heartbeat(call: Unary): Promise<object> {
    const r = call.request;
    const group = r.group ? resourceName(r.group, namespaceOf(call)) : undefined;
    this.sessions.heartbeat(clientIdOf(call), r.clientType, group);
    return { status: OK };
  }

  /** One assignment per broker with queue id -1 ("every queue"), as the RocketMQ proxy does. */
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
    const ns = namespaceOf(call);
    const entries = await Promise.all(
      messages.map(async (m) => {
        try {
          if (!m.systemProperties?.messageId?.trim()) {
            throw new ProtocolError(Code.ILLEGAL_MESSAGE_ID, 'system_properties.message_id is blank.');
          }
          const tx = m.systemProperties.messageType === MessageTypeV2.TRANSACTION;
          const transaction = tx ? producer.beginTransaction() : undefined;
          const receipt = await producer.send(toSendMessage(m, ns), transaction);
          this.ctx.metrics?.sent(resourceName(m.topic, ns), 1, m.body?.length ?? 0);
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

  /**
   * Long-poll the group on the topic (every queue: the request's queue id is ignored, as the
   * RocketMQ proxy does) and stream status, messages, delivery timestamp.
   */
  private async receiveMessage(call: grpc.ServerWritableStream<Req, object>): Promise<void> {
    const r = call.request;
    const ns = namespaceOf(call);
    const group = resourceName(r.group, ns);
    const topic = resourceName(r.messageQueue?.topic, ns);
    const expression: string = r.filterExpression?.expression ?? '*';
    if (expression.length > MAX_FILTER_CHARS) {
      throw new BrokerError(
        'ILLEGAL_FILTER_EXPRESSION',
        `the filter expression has ${expression.length} characters; at most ${MAX_FILTER_CHARS}.`,
      );
    }
    const sql = r.filterExpression?.type === FilterTypeV2.SQL;
    const consumer = this.consumerFor(group, topic, sql ? { expression, filterType: 'SQL92' } : expression);
    const clientId = optionalClientId(call);
    const leased = r.autoRenew === true && clientId !== undefined;
    const invisibleMs = leased
      ? this.leases.leaseMs
      : (durationMs(r.invisibleDuration) ?? DEFAULT_INVISIBLE_MS);
    let awaitMs = Math.min(durationMs(r.longPollingTimeout) ?? DEFAULT_POLL_MS, MAX_POLL_MS);
    const deadline = call.getDeadline();
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : Number(deadline);
    if (Number.isFinite(deadlineMs))
      awaitMs = Math.min(awaitMs, deadlineMs - Date.now() - DEADLINE_MARGIN_MS);
    const batch = Math.max(1, Math.min(r.batchSize || 32, 1024));
    const ac = new AbortController();
    const abort = (): void => ac.abort();
    call.on('cancelled', abort);
    this.receives.add(ac);
    if (this.ctx.closing()) ac.abort();
    let views: MessageView[];
    try {
      views = await consumer.receive(batch, invisibleMs, {
        awaitMs: Math.max(0, awaitMs),
        signal: ac.signal,
      });
    } finally {
      this.receives.delete(ac);
      call.off('cancelled', abort);
    }
    if (call.cancelled) {
      await release(consumer, views);
      return;
    }
    if (views.length === 0) {
      call.write({ status: status(Code.MESSAGE_NOT_FOUND, 'no new message') });
      call.end();
      return;
    }
    if (leased) for (const v of views) this.leases.add(clientId, consumer, v.receiptHandle);
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

  private async ackMessage(call: Unary): Promise<object> {
    const r = call.request;
    const group = resourceName(r.group, namespaceOf(call));
    const consumer = this.consumerFor(group);
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
    // Every ack starts before any is awaited: the broker journals acks made in one synchronous
    // run together, one record per queue, however many entries the request has.
    const started = requested.map((e) => consumer.ack({ receiptHandle: e.receiptHandle ?? '' }));
    const settled = await Promise.allSettled(started);
    let acked = 0;
    const entries = requested.map((e, i) => {
      const r = settled[i]!;
      let s: Status = OK;
      if (r.status === 'fulfilled') {
        this.leases.end(e.receiptHandle ?? '');
        acked++;
      } else s = statusOf(r.reason);
      return { messageId: e.messageId ?? '', receiptHandle: e.receiptHandle ?? '', status: s };
    });
    this.ctx.metrics?.acked(group, acked);
    return { status: combined(entries.map((e) => e.status)), entries };
  }

  /** Invisible for the duration from now (a push nack, often 0–60 ms); a new handle comes back. */
  private async changeInvisibleDuration(call: Unary): Promise<object> {
    const r = call.request;
    const consumer = this.consumerFor(resourceName(r.group, namespaceOf(call)));
    const ms = durationMs(r.invisibleDuration);
    if (ms === undefined)
      return { status: status(Code.ILLEGAL_INVISIBLE_TIME, 'invisible_duration is required.') };
    const handle: string = r.receiptHandle ?? '';
    const m = { receiptHandle: handle };
    await consumer.changeInvisibleDuration(m, ms);
    this.leases.end(handle);
    return { status: OK, receiptHandle: m.receiptHandle };
  }

  /**
   * A push consumer gave up on a message (FIFO local retries ran out, or it is corrupted): it
   * moves to %DLQ%<group> with the same message id. Idempotent, as the client retries until OK.
   */
  private async forwardMessageToDeadLetterQueue(call: Unary): Promise<object> {
    const r = call.request;
    const consumer = this.consumerFor(resourceName(r.group, namespaceOf(call)));
    const handle: string = r.receiptHandle ?? '';
    await consumer.forwardToDeadLetterQueue({ receiptHandle: handle });
    this.leases.end(handle);
    return { status: OK };
  }

  /** COMMIT or ROLLBACK, from the producer (source CLIENT) or its checker (source SERVER_CHECK). */
  private async endTransaction(call: Unary): Promise<object> {
    const r = call.request;
    const id: string = r.transactionId ?? '';
    if (id.trim() === '') return { status: status(Code.INVALID_TRANSACTION_ID, 'transaction_id is blank.') };
    const resolution = r.resolution === 1 ? 'commit' : r.resolution === 2 ? 'rollback' : undefined;
    if (!resolution) return { status: status(Code.BAD_REQUEST, 'resolution must be COMMIT or ROLLBACK.') };
    await this.producerFor(clientIdOf(call)).endTransaction(id, resolution);
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

  /** The client shuts down: its producer closes, its leased messages are visible again at once. */
  private async notifyClientTermination(call: Unary): Promise<object> {
    const id = optionalClientId(call);
    if (id !== undefined) {
      const p = this.producers.get(id);
      this.producers.delete(id);
      await p?.close();
      await Promise.allSettled(
        this.leases
          .takeClient(id)
          .map((l) => l.consumer.changeInvisibleDuration({ receiptHandle: l.handle }, 0)),
      );
      this.sessions.terminate(id);
    }
    return { status: OK };
  }

  private telemetryStream(call: TelemetryCall): void {
    const clientId = optionalClientId(call);
    if (clientId === undefined) {
      call.write({ status: status(Code.CLIENT_ID_REQUIRED, 'the x-mq-client-id header is required.') });
      call.end();
      return;
    }
    this.sessions.streamOpened(clientId, call);
    const repeats: NodeJS.Timeout[] = [];
    call.on('data', (cmd: { settings?: ClientSettings } | UndecodableRequest) => {
      if (cmd instanceof UndecodableRequest) {
        call.write({ status: statusOf(undecodable(cmd)) });
        return;
      }
      let reply: object;
      try {
        this.ctx.authorize?.(call, 'Telemetry', cmd);
        if (!cmd.settings) return; // a client's answer to a command the server never sends
        reply = this.onSettings(clientId, namespaceOf(call), cmd.settings);
      } catch (err) {
        // A status-only command: the client's startup() rejects with the mapped exception.
        call.write({ status: statusOf(err) });
        return;
      }
      call.write(reply);
      if (repeats.length > 0) return;
      for (const ms of SETTINGS_REPEAT_MS) {
        const timer = setTimeout(() => {
          if (!call.cancelled && !call.writableEnded) call.write(reply);
        }, ms);
        timer.unref();
        repeats.push(timer);
      }
    });
    const closed = (): void => {
      for (const timer of repeats) clearTimeout(timer);
      this.sessions.streamClosed(clientId, call);
    };
    call.on('end', () => {
      closed();
      call.end();
    });
    call.on('error', closed);
    call.on('cancelled', closed);
  }

  /** Record a client's Settings; the reply to write back. */
  private onSettings(clientId: string, ns: string, settings: ClientSettings): object {
    const group = settings.subscription?.group ? resourceName(settings.subscription.group, ns) : undefined;
    const topics = settings.publishing?.topics?.map((t) => resourceName(t, ns));
    this.sessions.settings(clientId, settings.clientType, group, topics, settings);
    if (isProducer(settings) && !this.ctx.closing()) this.producerFor(clientId);
    return settingsReply(settings, this.limitsFor(group));
  }

  private limitsFor(group: string | undefined): SettingsLimits {
    const g = group === undefined ? undefined : this.ctx.broker.groupInfo(group);
    return {
      maxBodyBytes: this.ctx.broker.settings.maxBodyBytes,
      maxDeliveryAttempts:
        g?.maxDeliveryAttempts ?? this.ctx.broker.settings.groupDefaults.maxDeliveryAttempts,
      fifo: g?.fifo ?? false,
      longPollingMs: this.ctx.pushLongPollingMs ?? DEFAULT_POLL_MS,
    };
  }

  /**
   * A group's settings changed (tidemq admin configure-group): every client of the group with an
   * open Telemetry stream gets its Settings again with the new values (the official clients
   * apply a Settings command whenever it comes: push consumers take the new retry policy and
   * FIFO flag). Receiving, acking and dead-lettering read the broker's settings at each use.
   */
  groupChanged(group: string): number {
    let told = 0;
    const limits = this.limitsFor(group);
    for (const s of this.sessions.ofGroup(group)) {
      if (!s.lastSettings) continue;
      const reply = settingsReply(s.lastSettings, limits);
      for (const call of s.streams) {
        if (call.cancelled || call.writableEnded) continue;
        call.write(reply);
        told++;
      }
    }
    return told;
  }

  /** The broker producer of a client; its checker forwards check-backs to the client. */
  private producerFor(clientId: string): Producer {
    let p = this.producers.get(clientId);
    if (!p || p.isClosed) {
      p = this.ctx.broker.producer({ clientId, checker: this.checkerFor(clientId) });
      const evicted = remember(this.producers, clientId, p);
      evicted?.close().catch(() => {});
    }
    return p;
  }

  /**
   * Check-back through Telemetry: the half message goes to the client that sent it, or to
   * another live producer of the topic, as recover_orphaned_transaction_command. The answer
   * arrives later as EndTransaction; until then (or if no producer is connected) the broker
   * counts the check as unresolved and checks again, then rolls back after its last check.
   */
  private checkerFor(clientId: string): TransactionChecker {
    return {
      check: (view, transactionId) => {
        // The broker asks the sender's producer first, or falls back to another one: a client
        // that declared other topics gets the check only if no live producer declared this one.
        const topics = this.sessions.get(clientId)?.topics ?? [];
        const ownStream = this.sessions.streamOf(clientId);
        const call =
          (topics.length === 0 || topics.includes(view.topic) ? ownStream : undefined) ??
          this.sessions.producerStreamFor(view.topic, clientId) ??
          ownStream;
        if (!call) return TransactionResolution.UNKNOWN;
        const message = toWireMessage(view, namespaceOf(call), 0, MessageTypeV2.TRANSACTION);
        call.write(recoverCommand(transactionId, message));
        return TransactionResolution.UNKNOWN;
      },
    };
  }

  /**
   * The receiving consumer of `group` on `topic` with a filter (a tag expression, or SQL92;
   * validated by the broker); without a topic, the group's consumer for ack / nack /
   * dead-lettering (the group's progress is shared by all of them). None overrides a group
   * setting, so all follow the broker's group configuration.
   */
  private consumerFor(group: string, topic?: string, filter: FilterExpression = '*'): SimpleConsumer {
    const expression = typeof filter === 'string' ? filter : filter.expression;
    const kind = typeof filter === 'string' ? 'TAG' : (filter.filterType ?? 'TAG');
    const key = `${group}\n${topic ?? ''}\n${kind}\n${expression}`;
    let c = this.consumers.get(key);
    if (!c) {
      c = this.ctx.broker.simpleConsumer({
        consumerGroup: group,
        subscriptions: topic === undefined ? {} : { [topic]: filter },
        awaitDuration: 0,
      });
      const evicted = remember(this.consumers, key, c);
      evicted?.close().catch(() => {});
    }
    return c;
  }
}

/** Messages claimed for a call that went away become visible again at once. */
async function release(consumer: SimpleConsumer, views: MessageView[]): Promise<void> {
  await Promise.allSettled(
    views.map((v) => consumer.changeInvisibleDuration({ receiptHandle: v.receiptHandle }, 0)),
  );
}

function optionalClientId(call: { metadata: grpc.Metadata }): string | undefined {
  const id = call.metadata.get('x-mq-client-id')[0];
  return typeof id === 'string' && id !== '' ? id : undefined;
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
