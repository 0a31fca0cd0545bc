/**
 * Producer: validates a message completely before anything is written, classifies it (NORMAL,
 * FIFO, DELAY, TRANSACTION, PRIORITY) against the topic's type, chooses the queue, and routes it:
 * straight to its topic, to the timer topic (timer-service.ts), or to the half topic
 * (transaction-service.ts). Resolves once the record survives a crash.
 *
 * Recall handle: base64url of `v1 <topic> <timer record offset> <messageId>`.
 */
import { randomUUID } from 'node:crypto';
import type { BatchAppendResult } from '../store/commit-log.js';
import type { AppendResult, Message } from '../store/types.js';
import type { BrokerCore } from './core.js';
import { BrokerError } from './errors.js';
import { HALF_TOPIC, TIMER_TOPIC } from './journal.js';
import { CONTROL, checkBody, checkProperties, deliveryTime, messageType } from './message-checks.js';
import {
  messageIdOf,
  messageIdPrefix,
  newMessageId,
  nextMessageSequence,
  P_DELAY_LEVEL,
  P_DELIVER_MS,
  P_MESSAGE_GROUP,
  P_PRIORITY,
  P_PRODUCER,
  P_REAL_QID,
  P_REAL_TOPIC,
  P_TRAN_MSG,
  P_UNIQ_KEY,
} from './properties.js';
import { QueueChooser } from './queue-selector.js';
import {
  emptyRecord,
  PendingReceipts,
  receipt,
  releaseRecord,
  releaseRecords,
  SendScratch,
} from './send-scratch.js';
import type { TimerService } from './timer-service.js';
import { acceptsMessageType } from './topic-registry.js';
import type { TransactionService } from './transaction-service.js';
import type {
  ProducerOptions,
  RecallReceipt,
  SendMessage,
  SendReceipt,
  TopicInfo,
  TransactionChecker,
} from './types.js';

export interface ProducerHost {
  readonly core: BrokerCore;
  readonly timers: TimerService;
  readonly transactions: TransactionService;
  resolveTopic(name: string): TopicInfo;
  producerClosed(p: Producer): void;
}

/** Most messages one sendBatch() call takes. */
export const MAX_SEND_BATCH = 16_384;

/** The same error, saying which message of a batch it is about. */
function atIndex(err: unknown, i: number): unknown {
  if (err instanceof BrokerError) {
    return new BrokerError(err.code, `message ${i} of the batch: ${err.message} Nothing was sent.`, {
      cause: err,
    });
  }
  return err;
}

export class Transaction {
  /** Physical offset of the half message, once sent. */
  halfOffset: number | undefined;
  private ended = false;
  constructor(readonly producer: Producer) {}

  async commit(): Promise<void> {
    await this.end('commit');
  }

  async rollback(): Promise<void> {
    await this.end('rollback');
  }

  private async end(resolution: 'commit' | 'rollback'): Promise<void> {
    if (this.halfOffset === undefined) {
      throw new BrokerError(
        'BAD_REQUEST',
        'the transaction has no message: send one with producer.send(msg, tx) first.',
      );
    }
    if (this.ended)
      throw new BrokerError('TRANSACTION_ALREADY_RESOLVED', 'the transaction was already ended.');
    await this.producer.endTransaction(this.halfOffset, resolution);
    this.ended = true;
  }
}

export class Producer {
  readonly clientId: string;
  readonly checker: TransactionChecker | undefined;
  readonly topics: string[] | undefined;
  private readonly chooser: QueueChooser;
  private closed = false;
  /** Reused by every send; a send from inside a queue selector function gets a fresh one. */
  private spare: SendScratch | undefined = new SendScratch();

  constructor(
    private readonly host: ProducerHost,
    options: ProducerOptions = {},
  ) {
    const reader = host.core.reader;
    this.chooser = new QueueChooser(
      options.queueSelector,
      (t, q) => reader.maxOffset(t, q) - reader.minOffset(t, q),
    );
    this.checker = options.checker;
    this.topics = options.topics;
    this.clientId = options.clientId ?? `producer-${randomUUID()}`;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  beginTransaction(): Transaction {
    this.checkOpen();
    return new Transaction(this);
  }

  /**
   * Commit or roll back by transaction id (what a server's EndTransaction carries). With `topic`,
   * a pending transaction of another topic is INVALID_TRANSACTION_ID: ids are offsets, so a caller
   * allowed one topic must not end another topic's transactions by guessing them.
   */
  async endTransaction(
    halfOffsetOrId: number | string,
    resolution: 'commit' | 'rollback',
    topic?: string,
  ): Promise<void> {
    const p = typeof halfOffsetOrId === 'number' ? halfOffsetOrId : physicalOffsetOfId(halfOffsetOrId);
    await this.host.transactions.end(p, resolution, topic);
  }

  send(message: SendMessage, transaction?: Transaction): Promise<SendReceipt> {
    try {
      this.checkOpen();
      if (transaction === undefined) return this.sendOne(message);
      if (!(transaction instanceof Transaction) || transaction.producer !== this) {
        throw new BrokerError('BAD_REQUEST', 'the transaction was not begun by this producer.');
      }
      if (transaction.halfOffset !== undefined) {
        throw new BrokerError(
          'BAD_REQUEST',
          'a transaction holds one message (as in rocketmq-client-nodejs).',
        );
      }
      return this.sendHalf(message, transaction);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * A message outside a transaction. Not an async function, and the record is pooled (as in
   * sendBatch): the durability wait holds only what the receipt will say.
   */
  private sendOne(message: SendMessage): Promise<SendReceipt> {
    const core = this.host.core;
    const scratch = this.takeScratch();
    const record = scratch.records[0] ?? emptyRecord();
    scratch.records[0] = record;
    let r: AppendResult;
    try {
      r = core.append(this.prepare(message, Date.now(), false, scratch, 0, record));
    } finally {
      releaseRecord(record);
      this.spare = scratch;
    }
    const messageId = scratch.ids[0]!;
    const topic = scratch.topics[0]!;
    const queueId = scratch.queueIds[0]!;
    const recallHandle = this.schedule(scratch.dueAt[0]!, topic, r.physicalOffset, messageId);
    const queueOffset = r.queueOffset;
    return core.durable(r).then(() => receipt(messageId, '', recallHandle, topic, queueId, queueOffset));
  }

  /** The half message of a transaction (transaction-service.ts resolves it later). */
  private async sendHalf(message: SendMessage, transaction: Transaction): Promise<SendReceipt> {
    const core = this.host.core;
    const scratch = this.takeScratch();
    let record: Message;
    try {
      record = this.prepare(message, Date.now(), true, scratch, 0);
    } finally {
      this.spare = scratch;
    }
    const messageId = scratch.ids[0]!;
    const topic = scratch.topics[0]!;
    const queueId = scratch.queueIds[0]!;
    const half: Message = {
      ...record,
      topic: HALF_TOPIC,
      queueId: 0,
      properties: {
        ...record.properties,
        [P_REAL_TOPIC]: topic,
        [P_REAL_QID]: String(queueId),
        [P_TRAN_MSG]: 'true',
        [P_PRODUCER]: this.clientId,
      },
    };
    const r = core.append(half);
    const rec = core.store.get(r.physicalOffset);
    if (rec) this.host.transactions.add(rec);
    transaction.halfOffset = r.physicalOffset;
    await core.durable(r);
    return receipt(messageId, r.msgId, '', topic, queueId, r.queueOffset);
  }

  /**
   * Send several messages with one append (one store timestamp) and one durability wait —
   * what a gRPC SendMessage request with repeated entries carries. All or nothing on input:
   * every message is validated before any is written, so one bad message rejects the batch with
   * its error (the message says which index) and nothing is stored. Transactional messages are
   * not batched (a transaction holds one message). Receipts come back in the order given.
   */
  sendBatch(messages: readonly SendMessage[]): Promise<SendReceipt[]> {
    // Not an async function, and the receipt objects are made once the wait is over: while it
    // lasts, a batch holds only its compact PendingReceipts — not the messages, the records and
    // the receipts, which would otherwise survive young-generation collections.
    let pending: PendingReceipts | undefined;
    try {
      pending = this.writeBatch(messages);
    } catch (err) {
      return Promise.reject(err);
    }
    if (pending === undefined) return Promise.resolve([]);
    const done = pending;
    return this.host.core.durableTo(done.endOffset).then(() => done.receipts());
  }

  /** sendBatch's synchronous part: validate all, append all, note what the receipts say. */
  private writeBatch(messages: readonly SendMessage[]): PendingReceipts | undefined {
    this.checkOpen();
    if (!Array.isArray(messages)) {
      throw new BrokerError('BAD_REQUEST', 'sendBatch() needs an array of messages.');
    }
    const n = messages.length;
    if (n === 0) return undefined;
    if (n > MAX_SEND_BATCH) {
      throw new BrokerError(
        'BAD_REQUEST',
        `a batch holds at most ${MAX_SEND_BATCH} messages, got ${n}: split it.`,
      );
    }
    const now = Date.now();
    const prefix = messageIdPrefix(now);
    // The records are pooled: nothing keeps one past the append. prepare() fills pool[i] itself,
    // so the pool is the batch (no array per batch) when the batch is as long as the pool.
    const scratch = this.takeScratch();
    const pool = scratch.records;
    scratch.prefix = prefix;
    try {
      for (let i = 0; i < n; i++) {
        if (i === pool.length) pool.push(emptyRecord());
        try {
          this.prepare(messages[i]!, now, false, scratch, i, pool[i]);
        } catch (err) {
          throw atIndex(err, i);
        }
      }
      const records = n === pool.length ? pool : pool.slice(0, n);
      const r = this.host.core.appendBatch(records, { prefix: prefix.bytes, sequence: scratch.seqs });
      return this.settleBatch(scratch, n, r);
    } finally {
      releaseRecords(pool, n);
      scratch.prefix = undefined;
      this.spare = scratch;
    }
  }

  /** A written batch: timed messages to the timer service, and what the receipts will say. */
  private settleBatch(scratch: SendScratch, n: number, r: BatchAppendResult): PendingReceipts {
    const topic = scratch.topics[0]!;
    const queueIds = new Int32Array(n);
    // Generated ids are usually consecutive sequence numbers: then the first one says them all.
    const firstSeq = scratch.seqs[0]!;
    let seqs: Float64Array | undefined;
    let ids: string[] | undefined;
    let topics: string[] | undefined;
    let recallHandles: string[] | undefined;
    for (let i = 0; i < n; i++) {
      queueIds[i] = scratch.queueIds[i]!;
      const seq = scratch.seqs[i]!;
      if (seqs === undefined && (firstSeq < 0 || seq !== (firstSeq + i) >>> 0)) {
        seqs = new Float64Array(n);
        for (let k = 0; k < i; k++) seqs[k] = scratch.seqs[k]!;
      }
      if (seqs !== undefined) seqs[i] = seq;
      if (seq < 0) ids ??= scratch.ids.slice(0, n);
      if (scratch.topics[i] !== topic) topics ??= scratch.topics.slice(0, n);
      const dueAt = scratch.dueAt[i]!;
      if (dueAt !== 0) {
        recallHandles ??= new Array<string>(n).fill('');
        recallHandles[i] = this.schedule(dueAt, scratch.topics[i]!, r.physicalOffsets[i]!, scratch.ids[i]!);
      }
    }
    return new PendingReceipts(
      scratch.prefix!,
      firstSeq,
      seqs,
      ids,
      topic,
      topics,
      queueIds,
      r.queueOffsets,
      recallHandles,
      r.endOffset,
    );
  }

  private takeScratch(): SendScratch {
    const s = this.spare ?? new SendScratch();
    this.spare = undefined;
    s.topicName = undefined;
    s.topicInfo = undefined;
    return s;
  }

  /** resolveTopic, once per run of messages to one topic in a batch (see SendScratch.topicName). */
  private topicOf(name: string, scratch: SendScratch): TopicInfo {
    if (name === scratch.topicName && scratch.topicInfo !== undefined) return scratch.topicInfo;
    const info = this.host.resolveTopic(name);
    if (!this.chooser.callsUser) {
      scratch.topicName = name;
      scratch.topicInfo = info;
    }
    return info;
  }

  /**
   * Validate one message completely and build the record to append: the message itself, or
   * (timed) its copy for the timer topic. What its receipt will say goes to slot `i` of the
   * `scratch` (see SendScratch). The record is `into` (a pooled one) when given. Writes nothing.
   */
  private prepare(
    msg: SendMessage,
    now: number,
    transactional: boolean,
    scratch: SendScratch,
    i: number,
    into?: Message,
  ): Message {
    const core = this.host.core;
    if (!msg || typeof msg !== 'object')
      throw new BrokerError('BAD_REQUEST', 'send() needs a message object.');
    const info = this.topicOf(msg.topic, scratch);
    const body = checkBody(msg.body, core.settings.maxBodyBytes);
    const userProps = checkProperties(msg);
    const deliverAt = deliveryTime(msg, now, core.settings.maxDelayMs);
    if (msg.priority !== undefined && (!Number.isInteger(msg.priority) || msg.priority < 0)) {
      throw new BrokerError(
        'ILLEGAL_PRIORITY',
        `priority must be a non-negative integer, got ${msg.priority}.`,
      );
    }
    const type = messageType(msg, deliverAt !== undefined, transactional);
    if (!acceptsMessageType(info.type, type)) {
      throw new BrokerError(
        'MESSAGE_TYPE_MISMATCH',
        `topic ${info.name} is ${info.type} and does not accept ${type} messages.`,
      );
    }
    if (
      msg.messageId !== undefined &&
      (typeof msg.messageId !== 'string' || msg.messageId.length === 0 || CONTROL.test(msg.messageId))
    ) {
      throw new BrokerError('BAD_REQUEST', 'messageId must be a non-empty string.');
    }
    const queueId = this.chooser.choose(msg, info.queues);
    const timed = !transactional && deliverAt !== undefined && deliverAt > now;
    const plain =
      !transactional &&
      deliverAt === undefined &&
      msg.messageGroup === undefined &&
      msg.priority === undefined;
    // A plain message's id is the last property: the record's uniqKey writes the same bytes as a
    // UNIQ_KEY put last into a properties object, without that object. In a batch, a generated
    // one is not even made into a string: the batch's UniqKeyRun writes it as bytes.
    const prefix = scratch.prefix;
    let messageId = '';
    let seq = -1;
    if (msg.messageId !== undefined) messageId = msg.messageId;
    else if (prefix === undefined) messageId = newMessageId(now);
    else {
      seq = nextMessageSequence();
      if (!plain) messageId = messageIdOf(prefix, seq);
    }
    let props = userProps;
    let uniqKey: string | undefined = seq >= 0 ? undefined : messageId;
    if (!plain) {
      seq = -1;
      props = userProps ?? {};
      props[P_UNIQ_KEY] = messageId;
      uniqKey = undefined;
      if (msg.messageGroup !== undefined) props[P_MESSAGE_GROUP] = msg.messageGroup;
      if (msg.priority !== undefined) props[P_PRIORITY] = String(msg.priority);
      if (deliverAt !== undefined) props[P_DELIVER_MS] = String(deliverAt);
      if (msg.delayLevel !== undefined) props[P_DELAY_LEVEL] = String(msg.delayLevel);
      if (timed) {
        props[P_REAL_TOPIC] = info.name;
        props[P_REAL_QID] = String(queueId);
      }
    }
    scratch.ids[i] = messageId;
    scratch.seqs[i] = seq;
    scratch.topics[i] = info.name;
    scratch.queueIds[i] = queueId;
    scratch.dueAt[i] = timed ? deliverAt : 0;
    const record = into ?? emptyRecord();
    record.topic = timed ? TIMER_TOPIC : info.name;
    record.queueId = timed ? 0 : queueId;
    record.body = body;
    record.properties = props;
    record.uniqKey = uniqKey;
    record.bornTimestamp = msg.bornTimestamp ?? now;
    record.tags = msg.tag;
    record.keys = msg.keys !== undefined && msg.keys.length > 0 ? msg.keys : undefined;
    return record;
  }

  /** A written timed message goes to the timer service; returns its recall handle ('' if not timed). */
  private schedule(dueAt: number, topic: string, physicalOffset: number, messageId: string): string {
    if (dueAt === 0) return '';
    this.host.timers.add(physicalOffset, dueAt);
    return Buffer.from(`v1 ${topic} ${physicalOffset} ${messageId}`).toString('base64url');
  }

  /** Cancel a timed message that has not been delivered yet. */
  async recall(topic: string, recallHandle: string): Promise<RecallReceipt> {
    this.checkOpen();
    const parts =
      typeof recallHandle === 'string'
        ? Buffer.from(recallHandle, 'base64url').toString('utf8').split(' ')
        : [];
    const offset = Number(parts[2]);
    if (parts.length !== 4 || parts[0] !== 'v1' || !Number.isSafeInteger(offset) || offset < 0) {
      throw new BrokerError('INVALID_RECALL_HANDLE', 'the recall handle is malformed.');
    }
    if (parts[1] !== topic)
      throw new BrokerError('INVALID_RECALL_HANDLE', `the recall handle is not for topic ${topic}.`);
    const messageId = await this.host.timers.recall(topic, offset);
    return { messageId };
  }

  /** Same as recall (rocketmq-client-nodejs name). */
  recallMessage(topic: string, recallHandle: string): Promise<RecallReceipt> {
    return this.recall(topic, recallHandle);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.host.producerClosed(this);
  }

  /** Same as close (rocketmq-client-nodejs name). */
  shutdown(): Promise<void> {
    return this.close();
  }

  private checkOpen(): void {
    this.host.core.checkOpen();
    if (this.closed) throw new BrokerError('CLIENT_CLOSED', 'the producer is closed.');
  }
}

/** Offset message id (32 hex: store host 16 + physical offset 16) → physical offset. */
export function physicalOffsetOfId(id: string): number {
  if (typeof id !== 'string' || !/^[0-9A-Fa-f]{32}$/.test(id)) {
    throw new BrokerError('INVALID_TRANSACTION_ID', `transaction id ${JSON.stringify(id)} is malformed.`);
  }
  const hi = Number.parseInt(id.slice(16, 24), 16);
  const lo = Number.parseInt(id.slice(24, 32), 16);
  return hi * 0x100000000 + lo;
}
