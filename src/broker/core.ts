/**
 * BrokerCore: what the broker's services (delivery, timer, transactions) share — the store, the
 * queue reader, consumer state, settings, topic lookup, and the two ways of writing: `append`
 * (messages, synchronously into the mapping) and `journal` (a state change: appended, then
 * applied in memory in the same synchronous step; see journal.ts).
 */
import type { BatchAppendResult } from '../store/commit-log.js';
import type { MessageStore } from '../store/message-store.js';
import type { AppendResult, Message, UniqKeyRun } from '../store/types.js';
import type { ConsumerState, JournalRecord } from './consumer-state.js';
import type { GroupRegistry } from './group-registry.js';
import type { QueueReader } from './queue-reader.js';
import type { ConsumerGroupOptions, TopicInfo, TopicOptions } from './types.js';

export interface BrokerSettings {
  autoCreateTopics: boolean;
  defaultQueues: number;
  groupDefaults: Required<Omit<ConsumerGroupOptions, 'fifo'>> & { fifo: boolean | undefined };
  maxDelayMs: number;
  transactionTimeoutMs: number;
  transactionCheckIntervalMs: number;
  transactionMaxChecks: number;
  snapshotIntervalMs: number;
  maxBodyBytes: number;
  maxInvisibleMs: number;
}

export interface BrokerCore {
  readonly store: MessageStore;
  readonly reader: QueueReader;
  readonly state: ConsumerState;
  readonly settings: BrokerSettings;
  /** Persisted per-group settings (configureGroup). */
  readonly groupConfig: GroupRegistry;
  topic(name: string): TopicInfo | undefined;
  /** Create a topic if missing (system: broker-owned names such as %DLQ%group). */
  ensureTopic(name: string, options: TopicOptions, system?: boolean): TopicInfo;
  append(msg: Message): AppendResult;
  /** Several records at once; every one is validated before any is written. */
  appendBatch(msgs: readonly Message[], uniqKeys?: UniqKeyRun): BatchAppendResult;
  /** Resolves once the appended record survives a crash (sealed, or flushed in sync mode). */
  durable(result: AppendResult): Promise<void>;
  /** Resolves once every record before physical offset `end` survives a crash. */
  durableTo(end: number): Promise<void>;
  journal(rec: JournalRecord): Promise<void>;
  /** Subscribers whose FIFO groups or visibility changed: wake their long polls. */
  wake(subscriber: string): void;
  checkOpen(): void;
  readonly closing: boolean;
}
