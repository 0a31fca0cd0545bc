/**
 * The consumer side of MessagingService: ReceiveMessage (long polling), AckMessage,
 * ChangeInvisibleDuration, ForwardMessageToDeadLetterQueue, and the release of a terminating
 * client's leased messages.
 *
 * One broker SimpleConsumer per (group, topic, filter) does the receiving. It has no settings of
 * its own: FIFO, delivery attempts and retry backoff are the group's, read from the broker
 * (broker.configureGroup, persisted) at each use, so a group changed at run time takes effect at
 * once. The long-polling time and cancellation are per call. Push consumers receive with
 * `auto_renew`: their messages are leased (leases.ts) until acked, nacked or dead-lettered.
 */
import { BrokerError } from '../broker/errors.js';
import { parseHandle } from '../broker/message-view.js';
import type { SimpleConsumer } from '../broker/simple-consumer.js';
import type { FilterExpression, MessageView } from '../broker/types.js';
import {
  combined,
  MAX_BATCH_ENTRIES,
  optionalClientId,
  type ReceiveCall,
  remember,
  type Unary,
} from './calls.js';
import { FilterTypeV2, fromMs, namespaceOf, resourceName, toMs, toWireMessage } from './convert.js';
import { Leases } from './leases.js';
import type { ServiceContext } from './messaging-service.js';
import { Code, OK, type Status, status, statusOf } from './status.js';

/** Invisible time of a receive that names none and does not auto-renew. */
const DEFAULT_INVISIBLE_MS = 60_000;
/** Default invisible time (and renewal step) of auto-renewed deliveries (push consumers). */
const DEFAULT_LEASE_MS = 60_000;
/** Default long-polling time when the request names none, and the one push consumers are told. */
export const DEFAULT_POLL_MS = 20_000;
/** Answer a long poll this long before the client's deadline. */
const DEADLINE_MARGIN_MS = 1000;
/** Longest long poll, whatever the request asks (RocketMQ's proxy clamps too). */
const MAX_POLL_MS = 30_000;
/** Longest filter expression accepted (tags are short; this bounds the spec cache too). */
const MAX_FILTER_CHARS = 16 * 1024;
/** Longest attempt_id remembered (the clients send a UUID). */
const MAX_ATTEMPT_ID_CHARS = 128;

/** A delivery a client may ask for again under the same attempt_id (see replay). */
interface Attempt {
  clientId: string;
  views: MessageView[];
  expiresAtMs: number;
}
/**
 * Most messages remembered for attempt_id replay at once (views keep their segment mapped, so
 * the cache must not hold on to deleted segments for long): the oldest attempts go first.
 */
const MAX_ATTEMPT_VIEWS = 16_384;
/** How often expired attempts are dropped when no receive does it. */
const ATTEMPT_SWEEP_MS = 10_000;

export class ConsumerService {
  private readonly consumers = new Map<string, SimpleConsumer>();
  private readonly receives = new Set<AbortController>();
  private readonly leases: Leases;
  /** Deliveries by client, group, topic and attempt_id (bounded; see replay). */
  private readonly attempts = new Map<string, Attempt>();
  private attemptViews = 0;
  private readonly attemptSweep: NodeJS.Timeout;

  constructor(
    private readonly ctx: ServiceContext,
    alive: (clientId: string) => boolean,
  ) {
    this.leases = new Leases({ leaseMs: ctx.leaseMs ?? DEFAULT_LEASE_MS, alive });
    this.attemptSweep = setInterval(() => this.dropAttempts(() => false), ATTEMPT_SWEEP_MS);
    this.attemptSweep.unref();
  }

  /**
   * Long-poll the group on the topic (every queue: the request's queue id is ignored, as the
   * RocketMQ proxy does) and stream status, messages, delivery timestamp.
   */
  async receiveMessage(call: ReceiveCall): Promise<void> {
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
    const invisibleMs = leased ? this.leases.leaseMs : (toMs(r.invisibleDuration) ?? DEFAULT_INVISIBLE_MS);
    let awaitMs = Math.min(toMs(r.longPollingTimeout) ?? DEFAULT_POLL_MS, MAX_POLL_MS);
    const deadline = call.getDeadline();
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : Number(deadline);
    if (Number.isFinite(deadlineMs))
      awaitMs = Math.min(awaitMs, deadlineMs - Date.now() - DEADLINE_MARGIN_MS);
    const batch = Math.max(1, Math.min(r.batchSize || 32, 1024));
    const attemptId: unknown = r.attemptId;
    const attemptKey =
      clientId !== undefined &&
      typeof attemptId === 'string' &&
      attemptId.length > 0 &&
      attemptId.length <= MAX_ATTEMPT_ID_CHARS
        ? `${clientId}\n${group}\n${topic}\n${attemptId}`
        : undefined;
    let views = attemptKey === undefined ? undefined : await this.replay(attemptKey, consumer, invisibleMs);
    if (views === undefined) {
      const ac = new AbortController();
      const abort = (): void => ac.abort();
      call.on('cancelled', abort);
      this.receives.add(ac);
      if (this.ctx.closing()) ac.abort();
      try {
        views = await consumer.receive(batch, invisibleMs, {
          awaitMs: Math.max(0, awaitMs),
          signal: ac.signal,
        });
      } finally {
        this.receives.delete(ac);
        call.off('cancelled', abort);
      }
    }
    if (call.cancelled) {
      await release(consumer, views);
      return;
    }
    if (attemptKey !== undefined && views.length > 0)
      this.rememberAttempt(attemptKey, clientId!, views, invisibleMs);
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

  async ackMessage(call: Unary): Promise<object> {
    const r = call.request;
    const ns = namespaceOf(call);
    const group = resourceName(r.group, ns);
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
    const topic = resourceName(r.topic, ns);
    const started = requested.map((e) => {
      try {
        checkHandleTopic(e.receiptHandle ?? '', topic);
      } catch (err) {
        return Promise.reject(err);
      }
      return consumer.ack({ receiptHandle: e.receiptHandle ?? '' });
    });
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
  async changeInvisibleDuration(call: Unary): Promise<object> {
    const r = call.request;
    const ns = namespaceOf(call);
    const consumer = this.consumerFor(resourceName(r.group, ns));
    const ms = toMs(r.invisibleDuration);
    if (ms === undefined)
      return { status: status(Code.ILLEGAL_INVISIBLE_TIME, 'invisible_duration is required.') };
    const handle: string = r.receiptHandle ?? '';
    checkHandleTopic(handle, resourceName(r.topic, ns));
    const m = { receiptHandle: handle };
    await consumer.changeInvisibleDuration(m, ms);
    this.leases.end(handle);
    return { status: OK, receiptHandle: m.receiptHandle };
  }

  /**
   * A push consumer gave up on a message (FIFO local retries ran out, or it is corrupted): it
   * moves to %DLQ%<group> with the same message id. Idempotent, as the client retries until OK.
   */
  async forwardMessageToDeadLetterQueue(call: Unary): Promise<object> {
    const r = call.request;
    const ns = namespaceOf(call);
    const consumer = this.consumerFor(resourceName(r.group, ns));
    const handle: string = r.receiptHandle ?? '';
    checkHandleTopic(handle, resourceName(r.topic, ns));
    await consumer.forwardToDeadLetterQueue({ receiptHandle: handle });
    this.leases.end(handle);
    return { status: OK };
  }

  /**
   * attempt_id: a client whose receive failed on its side (a deadline, a broken connection after
   * the server answered) asks again with the same id. The messages that call claimed are still
   * invisible, so a plain receive would not return them until they time out — for a push
   * consumer's renewed lease, possibly hours. Instead the same messages come back under the same
   * receipt handles and delivery attempt, their invisibility renewed from now; those acked,
   * nacked or redelivered meanwhile are left out (renew refuses a stale handle). Nothing left:
   * an ordinary receive.
   */
  private async replay(
    key: string,
    consumer: SimpleConsumer,
    invisibleMs: number,
  ): Promise<MessageView[] | undefined> {
    const previous = this.forgetAttempt(key);
    if (previous === undefined || previous.expiresAtMs <= Date.now()) return undefined;
    const renewed = await Promise.allSettled(previous.views.map((v) => consumer.renew(v, invisibleMs)));
    const views = previous.views.filter((_, i) => renewed[i]!.status === 'fulfilled');
    return views.length > 0 ? views : undefined;
  }

  /**
   * Remember a delivery for replay until its invisible time ends. Expired ones are dropped from
   * the oldest on (they hold views of mapped segments): entries go in in time order and most
   * share an invisible time, so the oldest are the first to expire.
   */
  private rememberAttempt(key: string, clientId: string, views: MessageView[], invisibleMs: number): void {
    this.forgetAttempt(key);
    this.attempts.set(key, { clientId, views, expiresAtMs: Date.now() + invisibleMs });
    this.attemptViews += views.length;
    this.dropAttempts(() => this.attemptViews > MAX_ATTEMPT_VIEWS);
  }

  private forgetAttempt(key: string): Attempt | undefined {
    const a = this.attempts.get(key);
    if (a === undefined) return undefined;
    this.attempts.delete(key);
    this.attemptViews -= a.views.length;
    return a;
  }

  /**
   * Drop expired attempts, and the oldest ones while `tooMany()` (insertion order is time order).
   * Expired ones are found from the oldest on, up to the first live one: most attempts share an
   * invisible time, so that is nearly all of them.
   */
  private dropAttempts(tooMany: () => boolean): void {
    const now = Date.now();
    for (const [k, a] of this.attempts) {
      if (a.expiresAtMs > now && !tooMany()) break;
      this.forgetAttempt(k);
    }
  }

  /** The client shuts down: its leased messages are visible again at once. */
  async releaseClient(clientId: string): Promise<void> {
    for (const [k, a] of this.attempts) if (a.clientId === clientId) this.forgetAttempt(k);
    await Promise.allSettled(
      this.leases
        .takeClient(clientId)
        .map((l) => l.consumer.changeInvisibleDuration({ receiptHandle: l.handle }, 0)),
    );
  }

  /** Server shutdown: answer parked long polls, stop renewing leases. */
  close(): void {
    for (const ac of this.receives) ac.abort();
    this.leases.stop();
    clearInterval(this.attemptSweep);
    this.attempts.clear();
    this.attemptViews = 0;
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

/**
 * A receipt handle must be for the topic the request names: that topic is what the caller was
 * authorized for, so a handle of another topic (same group) is refused. Malformed handles are
 * left to the broker, which answers INVALID_RECEIPT_HANDLE.
 */
function checkHandleTopic(handle: string, topic: string): void {
  // No topic named: nothing was authorized against one (under an ACL, only an account allowed
  // every topic gets here), and the broker's own checks decide.
  if (topic === '') return;
  let handleTopic: string;
  try {
    handleTopic = parseHandle(handle).topic;
  } catch {
    return;
  }
  if (handleTopic !== topic) {
    throw new BrokerError(
      'INVALID_RECEIPT_HANDLE',
      `the receipt handle is for another topic than ${JSON.stringify(topic)}: name the topic of the received message.`,
    );
  }
}
