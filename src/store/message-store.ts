/**
 * MessageStore: the storage engine facade. Opens a RocketMQ-layout store directory, recovers it,
 * and exposes appends (synchronous writes into the mapping), puts (resolved per flush policy),
 * flush, zero-copy reads, retention and stats.
 *
 * Directory: commitlog/<20-digit offset>, checkpoint, abort (exists while open: its presence at
 * open means the last run crashed), lock (flock against a second opener), config/.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { resolveConfig, type StoreConfig } from '../config.js';
import { errnoCode, StoreError } from '../errors.js';
import { native } from '../native.js';
import { Checkpoint } from './checkpoint.js';
import { type BatchAppendResult, CommitLog } from './commit-log.js';
import { recoverDerived } from './derived-recovery.js';
import { Dispatcher } from './dispatcher.js';
import { FlushService } from './flush-service.js';
import type { IndexGeometry } from './index-file.js';
import { DEFAULT_QUERY_MAX, QueueReader, type ReadResult, type RecordMaker } from './queue-reader.js';
import { collectGarbage } from './reclaim.js';
import type { StoredRecord } from './record-codec.js';
import { parseIpv4 } from './record-codec.js';
import { type RecoveryRule, recoverCommitLog } from './recovery.js';
import { diskUsage, type RetentionResult, runRetention } from './retention.js';
import type { AppendResult, Message, RecoveryReport, StoreOptions, StoreStats, UniqKeyRun } from './types.js';

const CHECKPOINT_FORCE_MS = 1000;
const QUEUE_TABLE_SNAPSHOT_MS = 10_000;
const DISK_FULL_RECHECK_MS = 100;

interface QueueTableSnapshot {
  offset: number;
  queues: Record<string, number[]>;
}

export class MessageStore {
  readonly dir: string;
  readonly config: StoreConfig;
  private readonly log: CommitLog;
  private readonly flusher: FlushService;
  private readonly checkpoint: Checkpoint;
  private readonly lockFd: number;
  private readonly recovery: RecoveryReport & { rule: RecoveryRule };
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;
  private closing: Promise<void> | undefined;
  private diskFull = false;
  private diskFullCheckedMs = 0;
  private lastSnapshotOffset = -1;
  private lastSnapshotMs = 0;
  private dispatcher!: Dispatcher;
  private reader!: QueueReader;
  private dispatchFlushing = false;

  private constructor(
    dir: string,
    config: StoreConfig,
    log: CommitLog,
    checkpoint: Checkpoint,
    lockFd: number,
    recovery: RecoveryReport & { rule: RecoveryRule },
  ) {
    this.dir = dir;
    this.config = config;
    this.log = log;
    this.checkpoint = checkpoint;
    this.lockFd = lockFd;
    this.recovery = recovery;
    this.flusher = new FlushService(log, {
      mode: config.flush,
      intervalMs: config.flushIntervalMs,
      leastPages: config.flushLeastPages,
      thoroughIntervalMs: config.flushThoroughIntervalMs,
      syncTimeoutMs: config.syncFlushTimeoutMs,
      onFailure: () => {},
      onFlushed: (flushed) => this.checkpoint.noteFlushed(flushed, this.log.storeTimestampOfLastRecord),
      onProgress: () => this.dispatcher?.kick(),
    });
  }

  private get indexGeometry(): IndexGeometry {
    return { slots: this.config.indexHashSlots, entries: this.config.indexMaxEntries };
  }

  /** Recover consume queues and the index, then start the dispatch workers. */
  private async startDispatch(checkpointDispatched: number | undefined, rebuild: boolean): Promise<void> {
    const derived = recoverDerived({
      storeDir: this.dir,
      commitLogMin: this.log.minOffset,
      commitLogEnd: this.log.wroteOffset,
      queueTable: this.log.queueTable(),
      checkpointDispatched,
      cqEntriesPerFile: this.config.cqEntriesPerFile,
      indexGeometry: this.indexGeometry,
      rebuild,
    });
    mkdirSync(path.join(this.dir, 'consumequeue'), { recursive: true });
    mkdirSync(path.join(this.dir, 'index'), { recursive: true });
    this.dispatcher = await Dispatcher.start({
      storeDir: this.dir,
      log: this.log,
      workers: rebuild
        ? Math.max(this.config.dispatchWorkers, availableParallelism())
        : this.config.dispatchWorkers,
      from: derived.dispatchFrom,
      cqEntriesPerFile: this.config.cqEntriesPerFile,
      indexGeometry: this.indexGeometry,
      slots: derived.slots,
      nextSlot: derived.slots.length,
      limit: () => (this.config.flush === 'sync' ? this.log.flushedOffset : this.log.sealedOffset),
    });
    this.reader = new QueueReader(
      this.dir,
      this.log,
      () => this.dispatcher.progress,
      this.config.cqEntriesPerFile,
      this.indexGeometry,
    );
  }

  /** Open (creating if needed) the store in `dir`. Options override TIDEMQ_* env vars. */
  static async open(dir: string, options: StoreOptions = {}): Promise<MessageStore> {
    const { rebuild = false, ...rest } = options;
    const config = resolveConfig(rest);
    const root = path.resolve(dir);
    try {
      mkdirSync(path.join(root, 'commitlog'), { recursive: true });
      mkdirSync(path.join(root, 'config'), { recursive: true });
    } catch (err) {
      throw new StoreError('IO_ERROR', `cannot create the store directory ${root}: ${String(err)}`, {
        cause: err,
      });
    }
    let lockFd: number;
    try {
      lockFd = native.lockFile(path.join(root, 'lock'));
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EWOULDBLOCK' || code === 'EAGAIN') {
        throw new StoreError(
          'STORE_LOCKED',
          `the store ${root} is already open (in this or another process): close it first, or use another directory.`,
          { cause: err },
        );
      }
      throw new StoreError('IO_ERROR', `cannot lock ${root}: ${String(err)}`, { cause: err });
    }
    try {
      const abortFile = path.join(root, 'abort');
      const abortExists = existsSync(abortFile);
      const checkpoint = Checkpoint.open(root);
      const log = new CommitLog({
        dir: path.join(root, 'commitlog'),
        segmentBytes: config.segmentBytes,
        maxMessageBytes: config.maxMessageBytes,
        prefault: config.prefault,
        storeHost: { ip: parseIpv4('127.0.0.1'), port: 10911 },
        bornHost: { ip: parseIpv4('127.0.0.1'), port: 0 },
      });
      const checkpointState = checkpoint.read();
      checkSegmentSize(root, checkpointState.segmentBytes, config.segmentBytes);
      const recovery = recoverCommitLog(log, { abortExists, checkpoint: checkpointState });
      const store = new MessageStore(root, config, log, checkpoint, lockFd, recovery);
      store.rebuildQueueTable();
      await store.startDispatch(checkpointState.dispatchedOffset, rebuild);
      writeFileSync(abortFile, String(process.pid));
      checkpoint.noteFlushed(log.flushedOffset, log.storeTimestampOfLastRecord);
      checkpoint.noteMinOffset(log.minOffset);
      checkpoint.noteSegmentBytes(config.segmentBytes);
      checkpoint.markClean(undefined);
      store.start();
      return store;
    } catch (err) {
      native.unlockFile(lockFd);
      throw err;
    }
  }

  private start(): void {
    this.flusher.start();
    const tick = setInterval(() => {
      this.flushDispatched().catch(() => {});
      this.checkpoint.force().catch(() => {});
      const now = Date.now();
      if (now - this.lastSnapshotMs >= QUEUE_TABLE_SNAPSHOT_MS)
        this.snapshotQueueTable(this.log.flushedOffset);
    }, CHECKPOINT_FORCE_MS);
    tick.unref();
    this.timers.push(tick);
    const clean = setInterval(() => {
      try {
        this.applyRetention(true);
      } catch {
        // retention is retried at the next interval
      }
    }, this.config.cleanIntervalMs);
    clean.unref();
    this.timers.push(clean);
  }

  /** Force consume queues and index to disk and record how far they cover (every second). */
  private async flushDispatched(): Promise<void> {
    if (this.dispatchFlushing || this.closed || this.closing) return;
    this.dispatchFlushing = true;
    try {
      const covered = await this.dispatcher.flush();
      this.checkpoint.noteDispatched(
        covered,
        covered === this.log.wroteOffset ? this.log.storeTimestampOfLastRecord : 0,
      );
    } finally {
      this.dispatchFlushing = false;
    }
  }

  // --- queue table (next offset of each (topic, queueId)) ---------------------------------------------

  private get queueTableFile(): string {
    return path.join(this.dir, 'config', 'queueOffsets.json');
  }

  /** Load the last snapshot and replay the records after it; or replay the whole log. */
  private rebuildQueueTable(): void {
    let from = this.log.minOffset;
    try {
      const snap = JSON.parse(readFileSync(this.queueTableFile, 'utf8')) as QueueTableSnapshot;
      if (
        Number.isSafeInteger(snap.offset) &&
        snap.offset >= this.log.minOffset &&
        snap.offset <= this.log.wroteOffset &&
        (snap.offset === this.log.wroteOffset || this.log.get(snap.offset) !== undefined)
      ) {
        for (const [topic, queues] of Object.entries(snap.queues)) {
          queues.forEach((next, queueId) => {
            if (next > 0) this.log.noteRecord(topic, queueId, next - 1, 0);
          });
        }
        from = snap.offset;
      }
    } catch {
      // no snapshot, or unreadable: replay everything
    }
    this.log.replayQueueTable(from);
  }

  /** Write the queue table as of `offset` (a record boundary no later than the flushed end). */
  private snapshotQueueTable(offset: number): void {
    if (offset === this.lastSnapshotOffset || offset !== this.log.wroteOffset) return;
    const queues: Record<string, number[]> = {};
    for (const [topic, next] of this.log.queueTable()) queues[topic] = next;
    const tmp = `${this.queueTableFile}.tmp`;
    writeFileSync(tmp, JSON.stringify({ offset, queues } satisfies QueueTableSnapshot));
    renameSync(tmp, this.queueTableFile);
    this.lastSnapshotOffset = offset;
    this.lastSnapshotMs = Date.now();
  }

  // --- writes ----------------------------------------------------------------------------------------

  private checkWritable(): void {
    if (this.closed) throw new StoreError('STORE_CLOSED', 'the store is closed: open it again to write.');
    const failed = this.flusher.failed;
    if (failed) throw new StoreError('STORE_READ_ONLY', failed.message, { cause: failed.cause });
    if (this.diskFull) {
      const now = Date.now();
      if (now - this.diskFullCheckedMs >= DISK_FULL_RECHECK_MS) {
        this.diskFullCheckedMs = now;
        this.diskFull = diskUsage(this.dir).usedRatio > this.config.diskWarningRatio;
      }
      if (this.diskFull) {
        throw new StoreError(
          'DISK_FULL',
          `disk usage of ${this.dir} is above ${this.config.diskWarningRatio * 100}% (TIDEMQ_DISK_WARNING_RATIO): writes are refused until space is freed.`,
        );
      }
    }
  }

  /** Write a message into the mapping now. Never waits for the disk. */
  append(msg: Message): AppendResult {
    return this.write(() => this.log.append(msg));
  }

  /** Run a commit log write; then let sealing/flushing know. DISK_FULL sets the refusal flag. */
  private write<T>(writeRecords: () => T): T {
    this.checkWritable();
    try {
      const r = writeRecords();
      this.flusher.noteAppend();
      return r;
    } catch (err) {
      if (err instanceof StoreError && err.code === 'DISK_FULL') this.diskFull = true;
      // a batch cut short by DISK_FULL has written its leading records
      if ((err as { written?: number }).written) this.flusher.noteAppend();
      throw err;
    }
  }

  /**
   * Write several messages at once (one store timestamp, no result object per message). Every
   * message is validated before any is written.
   */
  appendBatch(msgs: readonly Message[], uniqKeys?: UniqKeyRun): BatchAppendResult {
    return this.write(() => this.log.appendBatch(msgs, uniqKeys));
  }

  /** appendBatch, resolved per flush policy like put(). */
  putBatch(msgs: readonly Message[]): Promise<BatchAppendResult> {
    let r: BatchAppendResult;
    try {
      r = this.appendBatch(msgs);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.durable(r.endOffset).then(() => r);
  }

  /**
   * Append, then resolve per flush policy: sync — once the record is on disk (group commit);
   * async — once it is sealed in the page cache (survives a process crash, not a power loss).
   */
  put(msg: Message): Promise<AppendResult> {
    let r: AppendResult;
    try {
      r = this.append(msg);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.durable(r.physicalOffset + r.size).then(() => r);
  }

  /**
   * Resolve once everything before `endOffset` is as durable as the flush policy promises a
   * put(): flushed (sync) or sealed (async). For callers that append and answer later.
   */
  whenDurable(endOffset: number): Promise<void> {
    if (this.closed) return Promise.reject(new StoreError('STORE_CLOSED', 'the store is closed.'));
    return this.durable(endOffset);
  }

  /** The flush policy's promise: sealed in the page cache (async) or on disk (sync). */
  private durable(endOffset: number): Promise<void> {
    return this.config.flush === 'async'
      ? this.flusher.waitSealed(endOffset)
      : this.flusher.waitFor(endOffset);
  }

  /** Everything appended so far is on disk. Rejects with STORE_READ_ONLY if a flush failed. */
  flush(): Promise<void> {
    if (this.closed) return Promise.reject(new StoreError('STORE_CLOSED', 'the store is closed.'));
    return this.flusher.flushAll();
  }

  // --- reads -----------------------------------------------------------------------------------------

  /** The record at a physical offset, or undefined. Its body is a view over the mapping. */
  get(physicalOffset: number): StoredRecord | undefined {
    this.checkOpen();
    return this.log.get(physicalOffset);
  }

  /** Records in commit-log order, from `fromPhysicalOffset` (a record start; default: the oldest). */
  scan(fromPhysicalOffset?: number, maxMessages?: number): Iterable<StoredRecord> {
    this.checkOpen();
    return this.log.scan(fromPhysicalOffset, maxMessages);
  }

  /**
   * Up to maxMessages messages of (topic, queueId) from queueOffset, matching the tag filter
   * ('*' or 'a||b'). Bodies are zero-copy. `nextQueueOffset` on the result says where to go on.
   */
  read(
    topic: string,
    queueId: number,
    queueOffset: number,
    maxMessages: number,
    filter: { tags?: string } = {},
  ): ReadResult {
    this.checkOpen();
    return this.reader.read(topic, queueId, queueOffset, maxMessages, filter.tags);
  }

  /** read() without a filter, each result made by `make` from the record in place (see QueueReader). */
  readWith<T>(
    topic: string,
    queueId: number,
    queueOffset: number,
    maxMessages: number,
    make: RecordMaker<T>,
  ): T[] {
    this.checkOpen();
    return this.reader.readWith(topic, queueId, queueOffset, maxMessages, make);
  }

  /** Oldest queue offset still readable. */
  minOffset(topic: string, queueId: number): number {
    this.checkOpen();
    return this.reader.minOffset(topic, queueId);
  }

  /** Next queue offset to be written (only dispatched messages count). */
  maxOffset(topic: string, queueId: number): number {
    this.checkOpen();
    return this.reader.maxOffset(topic, queueId);
  }

  /** First queue offset whose message was stored at or after timestampMs (maxOffset if none). */
  offsetForTimestamp(topic: string, queueId: number, timestampMs: number): number {
    this.checkOpen();
    return this.reader.offsetForTimestamp(topic, queueId, timestampMs);
  }

  /** Messages of `topic` whose KEYS (or unique key) include `key`, newest first. */
  queryByKey(
    topic: string,
    key: string,
    options: { maxMessages?: number; beginMs?: number; endMs?: number } = {},
  ): StoredRecord[] {
    this.checkOpen();
    return this.reader.queryByKey(
      topic,
      key,
      options.maxMessages ?? DEFAULT_QUERY_MAX,
      options.beginMs ?? 0,
      options.endMs ?? Number.MAX_SAFE_INTEGER,
    );
  }

  /** Long-poll primitive: true once (topic, queueId) has a message at queueOffset, false on timeout. */
  waitForMessages(topic: string, queueId: number, queueOffset: number, timeoutMs: number): Promise<boolean> {
    this.checkOpen();
    return this.dispatcher.waitFor(topic, queueId, queueOffset, timeoutMs);
  }

  /** Topics with at least one message. */
  topics(): string[] {
    this.checkOpen();
    return [...this.log.queueTable().keys()].sort();
  }

  /** Queue ids of `topic` that hold at least one message. */
  queues(topic: string): number[] {
    this.checkOpen();
    const q = this.log.queueTable().get(topic) ?? [];
    const ids: number[] = [];
    q.forEach((next, id) => {
      if (next > 0) ids.push(id);
    });
    return ids;
  }

  /** Resolves once everything appended so far is visible through read() and queryByKey(). */
  async waitForDispatch(): Promise<void> {
    this.checkOpen();
    const target = this.log.wroteOffset;
    await this.durable(target);
    await this.dispatcher.drain(target);
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreError('STORE_CLOSED', 'the store is closed: open it again to read.');
  }

  // --- maintenance -----------------------------------------------------------------------------------

  /**
   * Apply retention now: expired segments go whatever the hour (RocketMQ's manual delete). It also
   * runs every cleanIntervalMs, deleting expired segments in a deleteWhen hour only (or at any
   * hour above diskMaxUsedRatio).
   */
  runRetention(): RetentionResult {
    return this.applyRetention(false);
  }

  private applyRetention(scheduled: boolean): RetentionResult {
    this.checkOpen();
    const result = runRetention(this.log, this.config, Date.now(), scheduled);
    this.diskFull = result.diskFull;
    this.diskFullCheckedMs = Date.now();
    if (result.deletedSegments > 0) {
      this.checkpoint.noteMinOffset(this.log.minOffset);
      this.reader.forget();
      const short = result.usedRatio > this.config.diskMaxUsedRatio || result.diskFull;
      this.dispatcher.retention(this.log.minOffset, short).catch(() => {});
      if (short) {
        // Deleted segments keep their blocks while mapped: release the unreferenced ones now.
        collectGarbage();
        const after = diskUsage(this.dir).usedRatio;
        result.usedRatio = after;
        result.diskFull = after > this.config.diskWarningRatio;
        this.diskFull = result.diskFull;
      }
    }
    return result;
  }

  stats(): StoreStats {
    return {
      wrotePosition: this.log.wroteOffset,
      flushedPosition: this.log.flushedOffset,
      minOffset: this.log.minOffset,
      segments: this.log.segments.length,
      segmentBytes: this.config.segmentBytes,
      flushMode: this.config.flush,
      flushes: this.flusher.flushes,
      flushFailures: this.flusher.flushFailures,
      flushMsTotal: this.flusher.flushMsTotal,
      lastFlushMs: this.flusher.lastFlushMs,
      readOnly: this.flusher.failed !== undefined,
      diskFull: this.diskFull,
      appended: this.log.appendedCount,
      recovery: { ...this.recovery },
      ...this.dispatchStats(),
    };
  }

  private dispatchStats() {
    const d = this.dispatcher;
    const dispatched = Math.min(d.dispatchedOffset, this.log.wroteOffset);
    const wrote = this.log.wroteOffset;
    let lagMs = 0;
    if (dispatched < wrote) {
      const rec = this.log.get(dispatched) ?? this.log.scan(dispatched, 1)[Symbol.iterator]().next().value;
      if (rec) lagMs = Math.max(0, Date.now() - rec.storeTimestamp);
    }
    return {
      dispatchedPosition: dispatched,
      dispatchLagBytes: wrote - dispatched,
      dispatchLagMs: lagMs,
      dispatchRecordsPerSecond: d.recordsPerSecond,
      dispatchWorkers: d.workers,
      dispatchError: d.failed ? String(d.failed) : undefined,
    };
  }

  /** Flush everything, record a clean end, release the directory. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = Promise.resolve().then(() => this.doClose());
    }
    return this.closing;
  }

  private async doClose(): Promise<void> {
    // No periodic dispatch flush or retention may start from here on: a task still in flight when
    // the worker pools are destroyed makes Piscina emit an unhandled 'error' event.
    for (const t of this.timers) clearInterval(t);
    let flushError: unknown;
    if (!this.flusher.failed) {
      try {
        await this.flusher.flushAll();
      } catch (err) {
        flushError = err;
      }
    }
    if (!flushError && !this.flusher.failed) {
      try {
        await this.dispatcher.drain(this.log.wroteOffset);
        while (this.dispatchFlushing) await new Promise((r) => setTimeout(r, 1));
        const covered = await this.dispatcher.flush();
        this.checkpoint.noteDispatched(covered, this.log.storeTimestampOfLastRecord);
      } catch {
        // derived files are rebuilt from the commit log at the next open
      }
    }
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await this.flusher.stop();
    await this.dispatcher.close();
    await this.log.close();
    try {
      if (!this.flusher.failed) {
        const end = this.log.wroteOffset;
        this.snapshotQueueTable(end);
        this.checkpoint.noteFlushed(end, this.log.storeTimestampOfLastRecord);
        this.checkpoint.markClean(end);
        rmSync(path.join(this.dir, 'abort'), { force: true });
      }
    } finally {
      native.unlockFile(this.lockFd);
    }
    if (flushError) throw flushError;
  }
}

/**
 * A store's segment size is fixed when it is created: segment file names are offsets, so another
 * size would resize the active segment (a one-segment store) or misplace every later one.
 */
function checkSegmentSize(root: string, recorded: number | undefined, configured: number): void {
  if (recorded === undefined || recorded === configured) return;
  throw new StoreError(
    'INVALID_CONFIG',
    `the store ${root} was created with TIDEMQ_SEGMENT_BYTES=${recorded}, not ${configured}: open it with segmentBytes ${recorded} (a store's segment size cannot change).`,
  );
}
