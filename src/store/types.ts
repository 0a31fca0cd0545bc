/** Public shapes of the storage engine facade. */

/** A message to append. */
export interface Message {
  topic: string;
  body: Uint8Array | string;
  /** Defaults to 0. */
  queueId?: number;
  tags?: string;
  /** One key or several; stored space-separated in the KEYS property, as RocketMQ does. */
  keys?: string | string[];
  properties?: Record<string, string>;
  /**
   * The UNIQ_KEY property (the client-made message id), written after `properties` (and in
   * place of a UNIQ_KEY there): the same bytes as giving it last in `properties`, without an
   * object per message.
   */
  uniqKey?: string;
  /** Defaults to the append time. */
  bornTimestamp?: number;
  /** RocketMQ's client flag field. Defaults to 0. */
  flag?: number;
  /** Defaults to 0. */
  reconsumeTimes?: number;
  /** RocketMQ sysFlag bits (transaction type and the like). Defaults to 0. */
  sysFlag?: number;
}

/**
 * UNIQ_KEY values for the messages of a batch, written as bytes rather than made into a string
 * per message: message i gets `prefix` followed by `sequence[i]` as 8 upper-case hex digits (a
 * RocketMQ client message id is a fixed hex prefix and a counter), unless `sequence[i]` is -1 or
 * the message has its own `uniqKey`. The bytes are those of that string given as its uniqKey.
 */
export interface UniqKeyRun {
  /** ASCII without \u0001 or \u0002. */
  prefix: Uint8Array;
  /** Per message of the batch: 0 to 2^32-1, or -1 for none. */
  sequence: ArrayLike<number>;
}

/** Where and when an appended record was written. */
export interface AppendResult {
  /** Commit log offset of the record. */
  physicalOffset: number;
  queueId: number;
  /** Per-(topic, queueId) sequence number, from 0. */
  queueOffset: number;
  /** RocketMQ offset message id: hex of store host (IPv4 + port) and physical offset. */
  readonly msgId: string;
  storeTimestamp: number;
  /** Record size in bytes, header included. */
  size: number;
}

/** A record read back from the commit log. `body` is a zero-copy view over the mapping. */
export interface StoredMessage extends AppendResult {
  topic: string;
  tags: string | undefined;
  keys: string[];
  /** User and system properties as stored (TAGS and KEYS included). */
  properties: Record<string, string>;
  bornTimestamp: number;
  reconsumeTimes: number;
  flag: number;
  sysFlag: number;
  bodyCrc: number;
  body: Buffer;
}

export type FlushMode = 'sync' | 'async';

/** Options passed to MessageStore.open. Each overrides its env var, which overrides the default. */
export interface StoreOptions {
  /** TIDEMQ_FLUSH */
  flush?: FlushMode;
  /** TIDEMQ_FLUSH_INTERVAL_MS */
  flushIntervalMs?: number;
  /** TIDEMQ_FLUSH_LEAST_PAGES */
  flushLeastPages?: number;
  /** TIDEMQ_FLUSH_THOROUGH_INTERVAL_MS */
  flushThoroughIntervalMs?: number;
  /** TIDEMQ_SYNC_FLUSH_TIMEOUT_MS */
  syncFlushTimeoutMs?: number;
  /** TIDEMQ_SEGMENT_BYTES */
  segmentBytes?: number;
  /** TIDEMQ_DISPATCH_WORKERS */
  dispatchWorkers?: number;
  /** TIDEMQ_MAX_MESSAGE_BYTES */
  maxMessageBytes?: number;
  /** TIDEMQ_FILE_RESERVED_HOURS */
  fileReservedHours?: number;
  /**
   * TIDEMQ_DELETE_WHEN: hours of the day (local time) at which the periodic cleaner deletes
   * expired segments, as RocketMQ's deleteWhen ("04", "3;4") or an array of hours; "*" for any
   * hour. Default 4 (RocketMQ's). Above diskMaxUsedRatio, and when runRetention() is called,
   * expired segments go at any hour.
   */
  deleteWhen?: string | readonly number[];
  /** TIDEMQ_DISK_MAX_USED_RATIO: above it, expired segments go at any hour. */
  diskMaxUsedRatio?: number;
  /** TIDEMQ_DISK_CLEAN_FORCIBLY_RATIO: above it, the oldest segments go even if not expired. */
  diskCleanForciblyRatio?: number;
  /** TIDEMQ_DISK_WARNING_RATIO: above it, writes are refused with DISK_FULL. */
  diskWarningRatio?: number;
  /** TIDEMQ_CLEAN_INTERVAL_MS: how often retention runs. */
  cleanIntervalMs?: number;
  /** TIDEMQ_PREFAULT: fault the commit log's pages in ahead of the writer (32 MiB) in the background. */
  prefault?: boolean;
  /** TIDEMQ_CQ_ENTRIES_PER_FILE: consume queue file size in 20-byte entries (RocketMQ: 300,000). */
  cqEntriesPerFile?: number;
  /** TIDEMQ_INDEX_HASH_SLOTS: hash slots per index file (RocketMQ: 5,000,000). */
  indexHashSlots?: number;
  /** TIDEMQ_INDEX_MAX_ENTRIES: entries per index file (RocketMQ: 20,000,000). */
  indexMaxEntries?: number;
  /** Delete consume queues and the index at open and rebuild them from the commit log. */
  rebuild?: boolean;
}

export interface RecoveryReport {
  /** Which row of the recovery decision table applied (see recovery.ts). */
  rule: string;
  /** The previous run closed cleanly (no abort marker). */
  cleanShutdown: boolean;
  /** Commit log offset recovery started validating from. */
  fromOffset: number;
  /** Where valid data ends after recovery. */
  endOffset: number;
  /** Bytes cut off the tail (torn or corrupt). */
  truncatedBytes: number;
  /** Why validation stopped, when it cut something: 'crc', 'magic', 'size', 'length', 'offset'. */
  reason: string | undefined;
  /** Records validated. */
  records: number;
  durationMs: number;
}

export interface StoreStats {
  wrotePosition: number;
  flushedPosition: number;
  /** Offset of the oldest retained record. */
  minOffset: number;
  segments: number;
  segmentBytes: number;
  flushMode: FlushMode;
  /** flush calls to the OS (msync) completed. */
  flushes: number;
  flushFailures: number;
  /** Milliseconds spent in flushes so far, and in the last one. */
  flushMsTotal: number;
  lastFlushMs: number;
  readOnly: boolean;
  diskFull: boolean;
  appended: number;
  recovery: RecoveryReport;
  /** Everything before it is visible through consume queues and the key index. */
  dispatchedPosition: number;
  /** wrotePosition − dispatchedPosition. */
  dispatchLagBytes: number;
  /** Age of the oldest record not yet dispatched (0 when none). */
  dispatchLagMs: number;
  /** Records dispatched per second over the last second or so. */
  dispatchRecordsPerSecond: number;
  dispatchWorkers: number;
  /** The last dispatch failure (retried every second), if any. */
  dispatchError: string | undefined;
}
