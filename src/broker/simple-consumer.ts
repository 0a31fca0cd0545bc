/**
 * SimpleConsumer: receive / ack / changeInvisibleDuration, as in rocketmq-client-nodejs. The
 * consumer group's progress lives in the broker (consumer-state.ts); consumers of one group
 * share it (clustering) unless the group is broadcasting, where each clientId has its own.
 */
import { randomUUID } from 'node:crypto';
import type { BrokerCore } from './core.js';
import type { DeliveryService, SubscriberSpec, Subscription } from './delivery-service.js';
import { BrokerError } from './errors.js';
import { checkGroupConfig } from './group-registry.js';
import {
  handlePartsOf,
  type ParsedHandle,
  parseSubscriptionFilter,
  readHandleParts,
} from './message-view.js';
import { checkGroupName } from './topic-registry.js';
import type {
  ConsumerOptions,
  FilterExpression,
  MessageView,
  SimpleConsumerOptions,
  TopicInfo,
} from './types.js';

export interface ConsumerHost {
  readonly core: BrokerCore;
  readonly delivery: DeliveryService;
  resolveTopic(name: string): TopicInfo;
  consumerClosed(c: { close(): Promise<void> }): void;
}

/** Validate options and build the subscriber the delivery service works for. */
export function buildSpec(host: ConsumerHost, options: ConsumerOptions): SubscriberSpec {
  if (!options || typeof options !== 'object')
    throw new BrokerError('BAD_REQUEST', 'consumer options are required.');
  checkGroupName(options.consumerGroup);
  const model = options.messageModel ?? 'CLUSTERING';
  if (model !== 'CLUSTERING' && model !== 'BROADCASTING') {
    throw new BrokerError(
      'BAD_REQUEST',
      `messageModel must be CLUSTERING or BROADCASTING, got ${String(model)}.`,
    );
  }
  // The consumer's own overrides; the rest comes from the group's configuration at each use.
  const own = checkGroupConfig(
    {
      maxDeliveryAttempts: options.maxDeliveryAttempts,
      retryBackoffMs: options.retryBackoffMs,
      fifo: options.fifo,
    },
    'consumer group options',
  );
  const groups = host.core.groupConfig;
  const group = options.consumerGroup;
  const clientId = options.clientId ?? randomUUID();
  const key = model === 'BROADCASTING' ? `${group}#${clientId}` : group;
  const spec: SubscriberSpec = {
    key,
    group,
    subscriptions: [],
    get fifo() {
      return own.fifo !== undefined ? own.fifo : groups.setting(group, 'fifo');
    },
    get maxDeliveryAttempts() {
      return own.maxDeliveryAttempts ?? groups.setting(group, 'maxDeliveryAttempts');
    },
    get retryBackoffMs() {
      return own.retryBackoffMs ?? groups.setting(group, 'retryBackoffMs');
    },
  };
  const subs =
    options.subscriptions instanceof Map
      ? [...options.subscriptions]
      : Object.entries(options.subscriptions ?? {});
  const parsed: Subscription[] = subs.map(([topic, filter]) => ({
    topic: host.resolveTopic(topic).name,
    ...parseSubscriptionFilter(filter),
  }));
  spec.subscriptions = parsed;
  return spec;
}

/** Per-call options of SimpleConsumer.receive. */
export interface ReceiveOptions {
  /** Long-polling time of this call (default: the consumer's awaitDuration). */
  awaitMs?: number;
  /** Aborting it ends the long poll now. */
  signal?: AbortSignal;
}

export class SimpleConsumer {
  readonly spec: SubscriberSpec;
  private readonly awaitDuration: number;
  private closed = false;
  private readonly ackParts: ParsedHandle = { seq: 0, queueId: 0, offset: 0, topic: '' };

  constructor(
    private readonly host: ConsumerHost,
    options: SimpleConsumerOptions,
  ) {
    this.spec = buildSpec(host, options);
    const a = options.awaitDuration ?? 30_000;
    if (typeof a !== 'number' || !Number.isFinite(a) || a < 0) {
      throw new BrokerError(
        'BAD_REQUEST',
        `awaitDuration must be a non-negative number of ms, got ${String(a)}.`,
      );
    }
    this.awaitDuration = a;
  }

  get consumerGroup(): string {
    return this.spec.group;
  }

  async subscribe(topic: string, filter: FilterExpression = '*'): Promise<void> {
    this.checkOpen();
    const t = this.host.resolveTopic(topic).name;
    const f = parseSubscriptionFilter(filter);
    this.spec.subscriptions = [...this.spec.subscriptions.filter((s) => s.topic !== t), { topic: t, ...f }];
  }

  unsubscribe(topic: string): void {
    this.spec.subscriptions = this.spec.subscriptions.filter((s) => s.topic !== topic);
  }

  /**
   * Up to `maxMessageNum` messages, invisible to others for `invisibleDuration` ms; long-polls
   * for the consumer's awaitDuration, or `options.awaitMs` for this call. An aborted
   * `options.signal` ends the poll early with whatever was found (usually nothing).
   */
  async receive(
    maxMessageNum = 16,
    invisibleDuration = 15_000,
    options: ReceiveOptions = {},
  ): Promise<MessageView[]> {
    this.checkOpen();
    const awaitMs = options.awaitMs ?? this.awaitDuration;
    if (typeof awaitMs !== 'number' || !Number.isFinite(awaitMs) || awaitMs < 0) {
      throw new BrokerError(
        'BAD_REQUEST',
        `awaitMs must be a non-negative number of ms, got ${String(awaitMs)}.`,
      );
    }
    const signal = options.signal;
    const wake = (): void => this.host.delivery.wake(this.spec.key);
    signal?.addEventListener('abort', wake, { once: true });
    try {
      return await this.host.delivery.receive(
        this.spec,
        maxMessageNum,
        invisibleDuration,
        awaitMs,
        () => this.closed || signal?.aborted === true,
      );
    } finally {
      signal?.removeEventListener('abort', wake);
    }
  }

  /** Ack a received message (or, given an array, the messages of it: see ackBatch). */
  ack(
    message: Pick<MessageView, 'receiptHandle'> | readonly Pick<MessageView, 'receiptHandle'>[],
  ): Promise<void> {
    if (Array.isArray(message)) return this.ackBatch(message);
    try {
      this.checkOpen();
      // into one scratch object (delivery.ack reads it before returning); a string is refused
      // by handlePartsOf as before (ack takes a message, not a bare handle)
      const h = this.ackParts;
      readHandleParts(typeof message === 'string' ? handlePartsOf(message) : message, h);
      return this.host.delivery.ack(this.spec, h);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Ack several received messages with one journal record per queue and one promise. All or
   * nothing: if any handle is malformed, stale, or given twice, the promise rejects with
   * INVALID_RECEIPT_HANDLE and none of them is acked.
   */
  ackBatch(messages: readonly Pick<MessageView, 'receiptHandle'>[]): Promise<void> {
    try {
      this.checkOpen();
      if (!Array.isArray(messages)) {
        throw new BrokerError('BAD_REQUEST', 'ackBatch() needs an array of received messages.');
      }
      return this.host.delivery.ackBatch(this.spec, messages);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Make the message invisible for `invisibleDuration` ms from now; updates message.receiptHandle. */
  async changeInvisibleDuration(
    message: Pick<MessageView, 'receiptHandle'>,
    invisibleDuration: number,
  ): Promise<void> {
    this.checkOpen();
    message.receiptHandle = await this.host.delivery.changeInvisibleDuration(
      this.spec,
      handleOf(message),
      invisibleDuration,
    );
  }

  /** Keep a received message invisible for `invisibleDuration` ms more; its handle stays valid. */
  async renew(message: Pick<MessageView, 'receiptHandle'>, invisibleDuration: number): Promise<void> {
    this.checkOpen();
    await this.host.delivery.renew(this.spec, handleOf(message), invisibleDuration);
  }

  /**
   * Give up on a received message: it moves to %DLQ%<group> now (same message id) and its FIFO
   * message group moves on. Repeating it for a message already done is a no-op.
   */
  async forwardToDeadLetterQueue(message: Pick<MessageView, 'receiptHandle'>): Promise<void> {
    this.checkOpen();
    await this.host.delivery.forwardToDeadLetter(this.spec, handleOf(message));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.host.delivery.wake(this.spec.key);
    this.host.consumerClosed(this);
  }

  shutdown(): Promise<void> {
    return this.close();
  }

  private checkOpen(): void {
    this.host.core.checkOpen();
    if (this.closed) throw new BrokerError('CLIENT_CLOSED', 'the consumer is closed.');
  }
}

export function handleOf(message: Pick<MessageView, 'receiptHandle'>): string {
  if (!message || typeof message !== 'object' || typeof message.receiptHandle !== 'string') {
    throw new BrokerError('INVALID_RECEIPT_HANDLE', 'expected a MessageView with a receiptHandle.');
  }
  return message.receiptHandle;
}
