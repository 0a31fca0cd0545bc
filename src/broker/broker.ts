/**
 * Broker: RocketMQ messaging semantics on a MessageStore it owns — topics, producers, simple and
 * push consumers, POP delivery with invisible time and receipt handles, retries and dead
 * letters, FIFO message groups, delayed/timed messages, transactions — embedded, without gRPC.
 *
 * Durability (journal.ts): state changes are journal records in the commit log, applied in
 * memory in the same synchronous step as their append; a snapshot in config/brokerState.json
 * bounds the replay. Open = load snapshot, scan the log from its position.
 */
import path from 'node:path';
import { Deferred } from '../deferred.js';
import type { BatchAppendResult } from '../store/commit-log.js';
import { MessageStore } from '../store/message-store.js';
import type { AppendResult, Message, UniqKeyRun } from '../store/types.js';
import type { JournalRecord } from './consumer-state.js';
import { ConsumerState } from './consumer-state.js';
import type { BrokerCore, BrokerSettings } from './core.js';
import { DeliveryService } from './delivery-service.js';
import { BrokerError } from './errors.js';
import { checkGroupConfig, type GroupConfig, type GroupInfo, GroupRegistry } from './group-registry.js';
import {
  decodeJournal,
  encodeJournal,
  HALF_TOPIC,
  JOURNAL_TOPIC,
  readSnapshot,
  TIMER_TOPIC,
  writeSnapshot,
} from './journal.js';
import { Producer } from './producer.js';
import { RETRY_BACKOFF_MS } from './properties.js';
import { PushConsumer } from './push-consumer.js';
import { type QueueReader, queueReaderFor } from './queue-reader.js';
import { SimpleConsumer } from './simple-consumer.js';
import { dueOf, TimerService } from './timer-service.js';
import { checkGroupName, checkTopicName, isSystemTopic, TopicRegistry } from './topic-registry.js';
import { TransactionService } from './transaction-service.js';
import type {
  BrokerOptions,
  ProducerOptions,
  PushConsumerOptions,
  SimpleConsumerOptions,
  TopicInfo,
  TopicOptions,
  TransactionChecker,
} from './types.js';

/** Receipt handle sequence numbers skipped at every open (see recover). */
const HANDLE_SEQ_GAP = 1 << 24;

/** The durability wait shared by every append of one microtask turn (see durableTo). */
class DurableBatch extends Deferred<void> {
  constructor(public end: number) {
    super();
  }
}

export class Broker implements BrokerCore {
  readonly store: MessageStore;
  readonly reader: QueueReader;
  readonly state = new ConsumerState();
  readonly settings: BrokerSettings;
  readonly delivery: DeliveryService;
  readonly timers: TimerService;
  readonly transactions: TransactionService;
  readonly groupConfig: GroupRegistry;
  private readonly registry: TopicRegistry;
  private readonly producers = new Set<Producer>();
  private readonly consumers = new Set<{ close(): Promise<void> }>();
  private snapshotTimer: NodeJS.Timeout | undefined;
  private snapshotting: Promise<void> | undefined;
  private lastSnapshotPosition = -1;
  private closingFlag = false;
  private durableBatch: DurableBatch | undefined;
  private closePromise: Promise<void> | undefined;

  private constructor(store: MessageStore, settings: BrokerSettings) {
    this.store = store;
    this.settings = settings;
    this.reader = queueReaderFor(store);
    this.groupConfig = new GroupRegistry(settings.groupDefaults);
    this.registry = new TopicRegistry(path.join(store.dir, 'config'));
    this.delivery = new DeliveryService(this);
    this.timers = new TimerService(this);
    this.transactions = new TransactionService(this, {
      checkerFor: (producerId, topic) => this.checkerFor(producerId, topic),
    });
  }

  /** Open (creating if needed) a broker over the store in `dir`. */
  static async open(dir: string, options: BrokerOptions = {}): Promise<Broker> {
    const settings = resolveSettings(options);
    const store = await MessageStore.open(dir, options.store ?? {});
    let broker: Broker;
    try {
      broker = new Broker(store, settings);
      broker.recover();
    } catch (err) {
      await store.close();
      throw err;
    }
    broker.timers.start();
    broker.transactions.start();
    await broker.snapshot();
    broker.snapshotTimer = setInterval(() => {
      broker.snapshot().catch(() => {});
    }, settings.snapshotIntervalMs);
    broker.snapshotTimer.unref();
    return broker;
  }

  /** Load the snapshot, then apply the log after it (journal, timer and half records). */
  private recover(): void {
    const snap = readSnapshot(this.store.dir);
    const stats = this.store.stats();
    let from = stats.minOffset;
    if (snap) {
      this.state.restore(snap.consumers, snap.handleSeq);
      this.groupConfig.restore(snap.groups);
      for (const [p, due] of snap.timers) this.timers.add(p, due);
      for (const [p, checks] of snap.transactions) {
        const rec = this.store.get(p);
        if (rec) this.transactions.add(rec, checks);
      }
      if (snap.position >= stats.minOffset && snap.position <= stats.wrotePosition) from = snap.position;
    }
    for (const rec of this.store.scan(from)) {
      const topic = rec.topic;
      if (topic === JOURNAL_TOPIC) {
        const r = decodeJournal(rec.body);
        if (r.op === 'fired') this.timers.remove(r.o);
        else if (r.op === 'tx') this.transactions.applyJournal(r.p, r.r, r.c);
        else if (r.op === 'group') this.groupConfig.apply(r.g, r.c);
        else this.state.apply(r);
      } else if (topic === TIMER_TOPIC) {
        this.timers.add(rec.physicalOffset, dueOf(rec.properties));
      } else if (topic === HALF_TOPIC) {
        this.transactions.add(rec);
      }
    }
    // receive() answers before its pop record is sealed, so a crash can lose pops whose handles
    // were handed out; new handles start far above any of them, so none can match again.
    this.state.handleSeq += HANDLE_SEQ_GAP;
  }

  /** Write config/brokerState.json as of the current log position (after flushing the log). */
  snapshot(): Promise<void> {
    if (this.snapshotting) return this.snapshotting;
    this.delivery.flushAcks();
    const position = this.store.stats().wrotePosition;
    if (position === this.lastSnapshotPosition) return Promise.resolve();
    const text = JSON.stringify({
      version: 1,
      position,
      handleSeq: this.state.handleSeq,
      consumers: this.state.snapshot(),
      timers: this.timers.snapshot(),
      transactions: this.transactions.snapshot(),
      groups: this.groupConfig.snapshot(),
    });
    this.snapshotting = (async () => {
      try {
        await this.store.flush();
        await writeSnapshot(this.store.dir, text);
        this.lastSnapshotPosition = position;
      } finally {
        this.snapshotting = undefined;
      }
    })();
    return this.snapshotting;
  }

  // --- BrokerCore ----------------------------------------------------------------------------------

  /** The broker is its own core (services and clients reach shared state through it). */
  get core(): BrokerCore {
    return this;
  }

  get closing(): boolean {
    return this.closingFlag;
  }

  checkOpen(): void {
    if (this.closingFlag) throw new BrokerError('BROKER_CLOSED', 'the broker is closed: open it again.');
  }

  topic(name: string): TopicInfo | undefined {
    return this.registry.get(name);
  }

  ensureTopic(name: string, options: TopicOptions, system = false): TopicInfo {
    return (
      this.registry.get(name) ?? this.registry.create(name, options, this.settings.defaultQueues, system)
    );
  }

  append(msg: Message): AppendResult {
    const r = this.store.append(msg);
    if (this.reader.tracksAppends)
      this.reader.noteAppend(msg.topic, r.queueId, r.queueOffset, r.physicalOffset);
    return r;
  }

  /**
   * Appends of one synchronous run share one wait: a single store waiter for the highest end
   * offset, registered in a microtask (records seal in log order, so it covers them all).
   */
  appendBatch(msgs: readonly Message[], uniqKeys?: UniqKeyRun): BatchAppendResult {
    const r = this.store.appendBatch(msgs, uniqKeys);
    if (!this.reader.tracksAppends) return r;
    for (let i = 0; i < r.count; i++) {
      this.reader.noteAppend(
        msgs[i]!.topic,
        msgs[i]!.queueId ?? 0,
        r.queueOffsets[i]!,
        r.physicalOffsets[i]!,
      );
    }
    return r;
  }

  durable(result: AppendResult): Promise<void> {
    return this.durableTo(result.physicalOffset + result.size);
  }

  durableTo(end: number): Promise<void> {
    let b = this.durableBatch;
    if (b === undefined) {
      b = new DurableBatch(end);
      this.durableBatch = b;
      queueMicrotask(() => {
        const batch = this.durableBatch!;
        this.durableBatch = undefined;
        this.store.whenDurable(batch.end).then(batch.resolve, batch.reject);
      });
    } else if (end > b.end) b.end = end;
    return b.promise;
  }

  journal(rec: JournalRecord): Promise<void> {
    this.delivery.flushAcks();
    const r = this.append({ topic: JOURNAL_TOPIC, queueId: 0, body: encodeJournal(rec), tags: rec.op });
    this.state.apply(rec);
    return this.durable(r);
  }

  wake(subscriber: string): void {
    this.delivery.wake(subscriber);
  }

  // --- public API ----------------------------------------------------------------------------------

  /** Create a topic, or grow its queue count / change its type. */
  createTopic(name: string, options: TopicOptions = {}): TopicInfo {
    this.checkOpen();
    return this.registry.create(name, options, this.settings.defaultQueues);
  }

  getTopic(name: string): TopicInfo | undefined {
    const t = this.registry.get(name);
    return t ? { ...t } : undefined;
  }

  topics(): TopicInfo[] {
    return this.registry.list();
  }

  /** A topic for sending or subscribing: known, or auto-created (MIXED) when enabled. */
  resolveTopic(name: string): TopicInfo {
    const known = this.registry.get(name);
    if (known !== undefined && !isSystemTopic(name)) return known;
    checkTopicName(name);
    if (isSystemTopic(name)) throw new BrokerError('ILLEGAL_TOPIC', `${name} is a broker-internal topic.`);
    if (name.startsWith('%DLQ%') || name.startsWith('%RETRY%')) {
      return this.registry.create(name, { queues: 1, type: 'MIXED' }, 1, true);
    }
    if (this.settings.autoCreateTopics && !name.startsWith('%')) {
      return this.registry.create(name, { type: 'MIXED' }, this.settings.defaultQueues);
    }
    throw new BrokerError(
      'TOPIC_NOT_FOUND',
      `topic ${name} does not exist: create it with broker.createTopic().`,
    );
  }

  producer(options: ProducerOptions = {}): Producer {
    this.checkOpen();
    const p = new Producer(this, options);
    this.producers.add(p);
    return p;
  }

  simpleConsumer(options: SimpleConsumerOptions): SimpleConsumer {
    this.checkOpen();
    const c = new SimpleConsumer(this, options);
    this.consumers.add(c);
    return c;
  }

  pushConsumer(options: PushConsumerOptions): PushConsumer {
    this.checkOpen();
    const c = new PushConsumer(this, options);
    this.consumers.add(c);
    return c;
  }

  producerClosed(p: Producer): void {
    this.producers.delete(p);
  }

  consumerClosed(c: { close(): Promise<void> }): void {
    this.consumers.delete(c);
  }

  private checkerFor(producerId: string, topic: string): TransactionChecker | undefined {
    for (const p of this.producers)
      if (p.clientId === producerId && p.checker && !p.isClosed) return p.checker;
    for (const p of this.producers) {
      if (p.checker && !p.isClosed && (p.topics === undefined || p.topics.includes(topic))) return p.checker;
    }
    return undefined;
  }

  /**
   * Move a group's position on every queue of a topic: 'earliest' (oldest retained), 'latest'
   * (skip everything so far) or a time (first message stored at or after it). Messages in flight
   * for the group on that topic are forgotten. Broadcasting consumers pass their clientId.
   */
  async resetOffset(
    group: string,
    topic: string,
    to: 'earliest' | 'latest' | Date | number,
    clientId?: string,
  ): Promise<void> {
    this.checkOpen();
    checkGroupName(group);
    const info = this.resolveTopic(topic);
    if (
      to !== 'earliest' &&
      to !== 'latest' &&
      !(to instanceof Date) &&
      !(typeof to === 'number' && Number.isFinite(to))
    ) {
      throw new BrokerError('BAD_REQUEST', "reset to 'earliest', 'latest', a Date or a timestamp in ms.");
    }
    const key = clientId === undefined ? group : `${group}#${clientId}`;
    const done: Promise<void>[] = [];
    for (let q = 0; q < info.queues; q++) {
      let n: number;
      if (to === 'earliest') n = this.reader.minOffset(info.name, q);
      else if (to === 'latest') n = this.reader.maxOffset(info.name, q);
      else n = this.offsetForTimestamp(info.name, q, to instanceof Date ? to.getTime() : to);
      done.push(this.journal({ op: 'reset', s: key, t: info.name, q, n }));
    }
    this.delivery.wake(key);
    await Promise.all(done);
  }

  /**
   * Set a consumer group's settings, persisted (journal + snapshot) and used by every consumer of
   * the group, running or future, for each setting it does not override itself. The given object
   * replaces the group's previous configuration; absent fields fall back to the broker's
   * groupDefaults; null forgets the configuration.
   */
  async configureGroup(name: string, settings: GroupConfig | null): Promise<GroupInfo> {
    this.checkOpen();
    checkGroupName(name);
    let config: GroupConfig | null = null;
    if (settings !== null) {
      config = checkGroupConfig(settings);
      GroupRegistry.checkKeys(settings);
    }
    const done = this.journal({ op: 'group', g: name, c: config });
    this.groupConfig.apply(name, config);
    await done;
    return this.groupInfo(name);
  }

  /** Known consumer groups (configured, with consumer state, or with a consumer open), sorted. */
  groups(): GroupInfo[] {
    const names = new Set<string>(this.groupConfig.configured());
    for (const s of this.state.subscribers()) {
      const hash = s.indexOf('#');
      names.add(hash < 0 ? s : s.slice(0, hash));
    }
    for (const c of this.consumers) {
      const g = (c as { consumerGroup?: unknown }).consumerGroup;
      if (typeof g === 'string') names.add(g);
    }
    return [...names].sort().map((n) => this.groupInfo(n));
  }

  /** One group's effective settings. */
  groupInfo(name: string): GroupInfo {
    const s = this.groupConfig.settings(name);
    return {
      name,
      configured: this.groupConfig.config(name) !== undefined,
      maxDeliveryAttempts: s.maxDeliveryAttempts,
      retryBackoffMs: [...s.retryBackoffMs],
      fifo: s.fifo,
    };
  }

  /** RocketMQ's consumer offset of a group on a queue: everything below it is done. */
  consumerOffset(group: string, topic: string, queueId: number, clientId?: string): number {
    const key = clientId === undefined ? group : `${group}#${clientId}`;
    const qp = this.state.get(key, topic, queueId);
    return qp ? qp.committed : this.reader.minOffset(topic, queueId);
  }

  private offsetForTimestamp(topic: string, queueId: number, ms: number): number {
    const side = this.store as unknown as {
      offsetForTimestamp?: (t: string, q: number, ms: number) => number;
    };
    if (typeof side.offsetForTimestamp === 'function') return side.offsetForTimestamp(topic, queueId, ms);
    let lo = this.reader.minOffset(topic, queueId);
    let hi = this.reader.maxOffset(topic, queueId);
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const rec = this.reader.read(topic, queueId, mid, 1)[0];
      if (!rec || rec.storeTimestamp >= ms) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Stop consumers and services, write a final snapshot, close the store. Idempotent. */
  close(): Promise<void> {
    if (!this.closePromise) this.closePromise = this.doClose();
    return this.closePromise;
  }

  private async doClose(): Promise<void> {
    const consumers = [...this.consumers];
    this.closingFlag = true;
    if (this.snapshotTimer) clearInterval(this.snapshotTimer);
    this.delivery.wakeAll();
    await Promise.allSettled(consumers.map((c) => c.close()));
    await this.timers.stop();
    await this.transactions.stop();
    await this.snapshotting;
    try {
      await this.snapshot();
    } finally {
      this.reader.close();
      await this.store.close();
    }
  }
}

function resolveSettings(o: BrokerOptions): BrokerSettings {
  const g = o.groupDefaults ?? {};
  const s: BrokerSettings = {
    autoCreateTopics: o.autoCreateTopics ?? false,
    defaultQueues: o.defaultQueues ?? 4,
    groupDefaults: {
      maxDeliveryAttempts: g.maxDeliveryAttempts ?? 17,
      retryBackoffMs: g.retryBackoffMs ?? [...RETRY_BACKOFF_MS],
      fifo: g.fifo,
    },
    maxDelayMs: o.maxDelayMs ?? 24 * 3600 * 1000,
    transactionTimeoutMs: o.transactionTimeoutMs ?? 6000,
    transactionCheckIntervalMs: o.transactionCheckIntervalMs ?? 30_000,
    transactionMaxChecks: o.transactionMaxChecks ?? 15,
    snapshotIntervalMs: o.snapshotIntervalMs ?? 5000,
    maxBodyBytes: o.maxBodyBytes ?? 4_161_536,
    maxInvisibleMs: o.maxInvisibleMs ?? 12 * 3600 * 1000,
  };
  for (const [name, v] of Object.entries(s)) {
    if (typeof v === 'number' && (!Number.isFinite(v) || v < 0)) {
      throw new BrokerError('BAD_REQUEST', `broker option ${name} must be a non-negative number, got ${v}.`);
    }
  }
  if (!Number.isInteger(s.defaultQueues) || s.defaultQueues < 1) {
    throw new BrokerError('BAD_REQUEST', `defaultQueues must be a positive integer, got ${s.defaultQueues}.`);
  }
  return s;
}
