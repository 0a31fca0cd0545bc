/**
 * Public shapes of the embedded broker. Names and fields follow rocketmq-client-nodejs 1.0.8
 * (MessageOptions, SendReceipt, MessageView, ConsumeResult, TransactionChecker) so code moves
 * between embedded tidemq, a tidemq server and Apache RocketMQ with little change. Nothing here
 * depends on gRPC types; the server translates these one to one.
 */
import type { StoreOptions } from '../store/types.js';

/** Topic message types (RocketMQ 5 `message.type`), plus PRIORITY. MIXED accepts every type. */
export type TopicType = 'NORMAL' | 'FIFO' | 'DELAY' | 'TRANSACTION' | 'PRIORITY' | 'MIXED';
export type MessageType = 'NORMAL' | 'FIFO' | 'DELAY' | 'TRANSACTION' | 'PRIORITY';

export interface TopicOptions {
  /** Number of queues (default: BrokerOptions.defaultQueues, 4). */
  queues?: number;
  /** Default NORMAL; auto-created topics are MIXED. */
  type?: TopicType;
}

export interface TopicInfo {
  name: string;
  queues: number;
  type: TopicType;
}

/** Same as rocketmq-client-nodejs MessageOptions; `properties` may also be a plain object. */
export interface SendMessage {
  topic: string;
  body: Buffer | Uint8Array | string;
  tag?: string;
  keys?: string[];
  properties?: Map<string, string> | Record<string, string>;
  /** FIFO: messages of one group are delivered in send order, one in flight at a time. */
  messageGroup?: string;
  /** Deliver after this many milliseconds. */
  delay?: number;
  /** Deliver at this time. */
  deliveryTimestamp?: Date | number;
  /** RocketMQ delay level 1..18 (1s 5s 10s 30s 1m … 2h). */
  delayLevel?: number;
  /** PRIORITY topics: higher is delivered first among visible messages. */
  priority?: number;
  /** A message id chosen by the sender (a server passes the client's); generated if absent. */
  messageId?: string;
  /** Born timestamp (ms) chosen by the sender; default now. */
  bornTimestamp?: number;
}

export interface SendReceipt {
  messageId: string;
  /** Non-empty for transactional sends. */
  transactionId: string;
  /** Non-empty for delayed and timed sends: pass to producer.recall(). */
  recallHandle: string;
  topic: string;
  queueId: number;
  /** Queue offset (timed and half messages: the offset in the system topic that holds them). */
  offset: number;
}

export interface RecallReceipt {
  messageId: string;
}

/** Numeric values match apache.rocketmq.v2.TransactionResolution. */
export enum TransactionResolution {
  UNKNOWN = 0,
  COMMIT = 1,
  ROLLBACK = 2,
}

export interface TransactionChecker {
  /** `transactionId` is the one the send returned (a server passes it on to its client). */
  check(
    messageView: MessageView,
    transactionId: string,
  ): Promise<TransactionResolution> | TransactionResolution;
}

/** Chooses a queue for a message: a name, or a function returning 0..queues-1. */
export type QueueSelector =
  | 'round-robin'
  | 'random'
  | 'least-loaded'
  | ((message: SendMessage, queues: number) => number);

export interface ProducerOptions {
  queueSelector?: QueueSelector;
  checker?: TransactionChecker;
  /** Topics this producer publishes (used to find a checker after a restart). */
  topics?: string[];
  /** Stable identity across restarts (check-backs prefer the sender). Default: generated. */
  clientId?: string;
}

/** A received message. Same field names as rocketmq-client-nodejs MessageView. */
export interface MessageView {
  readonly messageId: string;
  readonly topic: string;
  /** Zero-copy view over the store mapping; copy it to keep it past retention if you need. */
  readonly body: Buffer;
  readonly corrupted: boolean;
  readonly tag?: string;
  readonly messageGroup?: string;
  readonly deliveryTimestamp?: Date;
  readonly keys: string[];
  readonly bornHost: string;
  readonly bornTimestamp?: Date;
  readonly deliveryAttempt: number;
  /** Changes on changeInvisibleDuration (as in the official SimpleConsumer). */
  receiptHandle: string;
  readonly queueId: number;
  readonly offset: number;
  readonly properties: Map<string, string>;
  readonly priority?: number;
  readonly storeTimestamp: number;
}

/**
 * Filter: '*' (or empty) for all, or tags joined by '||'; or `{ expression, filterType: 'SQL92' }`
 * over message properties (sql-filter.ts: = <> < > <= >= IN BETWEEN IS [NOT] NULL AND OR NOT).
 */
export type FilterExpression = string | { expression: string; filterType?: 'TAG' | 'SQL92' };

export type MessageModel = 'CLUSTERING' | 'BROADCASTING';

export interface ConsumerGroupOptions {
  /** Deliveries before a message goes to %DLQ%<group> (default 17: 16 retries + 1). */
  maxDeliveryAttempts?: number;
  /** Nack backoff by retry number (default RocketMQ's 10s 30s 1m … 2h). */
  retryBackoffMs?: number[];
  /** FIFO consumption (strict order within a message group). Default: true for FIFO topics. */
  fifo?: boolean;
}

export interface ConsumerOptions extends ConsumerGroupOptions {
  consumerGroup: string;
  subscriptions: Map<string, FilterExpression> | Record<string, FilterExpression>;
  messageModel?: MessageModel;
  /** Broadcasting: the consumer's identity; its progress is kept under it across restarts. */
  clientId?: string;
}

export interface SimpleConsumerOptions extends ConsumerOptions {
  /** Long-polling time of receive (default 30 000 ms). */
  awaitDuration?: number;
}

export class ConsumeResult {
  static readonly SUCCESS = new ConsumeResult('SUCCESS');
  static readonly FAILURE = new ConsumeResult('FAILURE');
  readonly name: string;
  protected constructor(name: string) {
    this.name = name;
  }
  toString(): string {
    return this.name;
  }
}

export interface MessageListener {
  consume(messageView: MessageView): ConsumeResult | Promise<ConsumeResult>;
}

export interface PushConsumerOptions extends ConsumerOptions {
  messageListener: MessageListener | ((messageView: MessageView) => ConsumeResult | Promise<ConsumeResult>);
  /** Listener calls in flight at once (default 20). */
  consumptionThreadCount?: number;
  /** Messages per receive (default 32). */
  receiveBatchSize?: number;
  /** Invisible time of a message being consumed (default 60 000 ms). */
  invisibleDurationMs?: number;
  /** Long-polling time of the internal receive (default 20 000 ms). */
  longPollingTimeout?: number;
}

export interface BrokerOptions {
  /** Options of the MessageStore the broker owns. */
  store?: StoreOptions;
  /** Create unknown topics on send/subscribe as MIXED (default false). */
  autoCreateTopics?: boolean;
  /** Queues of created topics without an explicit count (default 4). */
  defaultQueues?: number;
  /** Default options of consumer groups (each consumer may override). */
  groupDefaults?: ConsumerGroupOptions;
  /** Longest delay accepted (default 24 h). */
  maxDelayMs?: number;
  /** Transaction check-back: first check after (default 6 000 ms). */
  transactionTimeoutMs?: number;
  /** Transaction check-back: then every (default 30 000 ms). */
  transactionCheckIntervalMs?: number;
  /** Transaction check-back: at most this many checks, then rollback (default 15). */
  transactionMaxChecks?: number;
  /** Write a state snapshot at least this often (default 5 000 ms). */
  snapshotIntervalMs?: number;
  /** Largest body accepted (default 4 161 536, what the gRPC server advertises). */
  maxBodyBytes?: number;
  /** Invisible durations accepted by receive/changeInvisibleDuration (default 0 .. 12 h). */
  maxInvisibleMs?: number;
}
