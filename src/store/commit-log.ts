/**
 * The commit log: every message of every topic, appended in order into a queue of mapped
 * segments. The main thread writes records straight into the mapping; durability is the flush
 * service's business (flush-service.ts). The next segment is created ahead of time so a roll
 * never waits on fallocate.
 *
 * Positions (physical offsets, global):
 *   minOffset ≤ flushedOffset ≤ wroteOffset
 * - wroteOffset: end of the last record in the mapping (readable by get/scan);
 * - flushedOffset: everything before it is on disk.
 */
import { Buffer } from 'node:buffer';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { errnoCode, StoreError } from '../errors.js';
import { native } from '../native.js';
import { MappedSegment, PREPARING_SUFFIX, parseSegmentFileName, segmentFileName } from './mapped-segment.js';
import {
  BLANK_BYTES,
  encodeBlank,
  encodeRecord,
  FIXED_V1_BYTES,
  type HostAddress,
  MAGIC_BLANK,
  MAGIC_V1,
  MAGIC_V2,
  MAX_PROPERTIES_BYTES,
  OFF_MAGIC,
  OFF_PHYSICAL_OFFSET,
  offsetMsgId,
  type RecordFields,
  readInt64,
  recordLayout,
  recordSize,
  StoredRecord,
} from './record-codec.js';
import {
  checkUniqKeyRun,
  measurePropertiesBytes,
  runSequence,
  writePropertiesBytes,
} from './record-properties.js';
import type { AppendResult, Message, UniqKeyRun } from './types.js';

const TOPIC_PATTERN = /^[%|a-zA-Z0-9_-]+$/;
const TRANSACTION_TYPE_MASK = 0xc;
const TRANSACTION_PREPARED = 0x4;
const TRANSACTION_ROLLBACK = 0xc;
const MAX_QUEUE_ID = 65535;

/**
 * Number.isSafeInteger without the call: TurboFan calls the builtin for a double (a timestamp),
 * boxing it first — 32 bytes of garbage per appended message.
 */
export function isSafeInteger(x: unknown): boolean {
  return typeof x === 'number' && x === Math.floor(x) && Math.abs(x) <= Number.MAX_SAFE_INTEGER;
}

/** Per-topic state kept on the append path: the encoded name and the next offset of each queue. */
interface TopicState {
  bytes: Buffer;
  nextQueueOffsets: number[];
}

export class AppendReceipt implements AppendResult {
  constructor(
    readonly physicalOffset: number,
    readonly queueId: number,
    readonly queueOffset: number,
    readonly storeTimestamp: number,
    readonly size: number,
    private readonly storeHost: HostAddress,
  ) {}

  get msgId(): string {
    return offsetMsgId(this.storeHost, this.physicalOffset);
  }

  toJSON(): Record<string, unknown> {
    return {
      physicalOffset: this.physicalOffset,
      queueId: this.queueId,
      queueOffset: this.queueOffset,
      msgId: this.msgId,
      storeTimestamp: this.storeTimestamp,
      size: this.size,
    };
  }
}

/**
 * What appendBatch wrote: offsets in message order. A class: putBatch holds it across the
 * durability wait (see deferred.ts).
 */
export class BatchAppendResult {
  constructor(
    readonly count: number,
    readonly physicalOffsets: Float64Array,
    readonly queueOffsets: Float64Array,
    readonly storeTimestamp: number,
    /** Physical offset after the last record (what a durability wait targets). */
    readonly endOffset: number,
  ) {}
}

/**
 * The active segment's pages are kept faulted in (MADV_POPULATE_WRITE) this far ahead of the write
 * position by the addon's prefault thread, which follows the position the commit log publishes
 * after each append, so appends find their pages present. Only ahead, never the whole segment at
 * once: a fresh page costs the kernel a zero-fill (6–11 µs a page on a VM whose host backs guest
 * memory on first touch), and faulting a whole segment in at each roll kept one core busy for a
 * second or more, competing with the event loop and the dispatch worker.
 */
export const PREFAULT_LEAD_BYTES = 32 * 1024 * 1024;
/**
 * Bytes per prefault step; the follow is renewed once per step written (the addon reads a step in
 * and maps it in 256 KiB calls, see native/page_hints.cc).
 */
export const PREFAULT_CHUNK_BYTES = 2 * 1024 * 1024;
/** A follow with nothing to do for this long ends; the next step written renews it. */
export const PREFAULT_IDLE_MS = 50;

export interface CommitLogOptions {
  dir: string;
  segmentBytes: number;
  maxMessageBytes: number;
  prefault: boolean;
  storeHost: HostAddress;
  bornHost: HostAddress;
}

export class CommitLog {
  readonly dir: string;
  readonly segmentBytes: number;
  readonly segments: MappedSegment[] = [];
  readonly storeHost: HostAddress;
  private readonly bornHost: HostAddress;
  private readonly maxMessageBytes: number;
  private readonly topics = new Map<string, TopicState>();
  /** The topic topicState() found last (topics are never removed from the map). */
  private lastTopic: string | undefined;
  private lastTopicState: TopicState | undefined;
  private readonly fields: RecordFields = {
    queueId: 0,
    flag: 0,
    queueOffset: 0,
    physicalOffset: 0,
    sysFlag: 0,
    bornTimestamp: 0,
    storeTimestamp: 0,
    reconsumeTimes: 0,
    preparedTransactionOffset: 0,
  };
  /**
   * This log's slot with the prefault thread (native.prefaultWriter): [0] the write position
   * (physical offset), stored after every append; [1] set at close to stop following.
   */
  private readonly prefaultCells: Float64Array | undefined;
  /** The write position at which the follows are renewed next. */
  private nextFollowAt = 0;
  /** Created ahead of time; becomes active at the next roll. */
  private prepared: MappedSegment | undefined;
  /** The preparation in flight (prepareNext): the start offset of the segment it makes. */
  private preparing: { fromOffset: number; done: Promise<void> } | undefined;
  private lastStoreTimestamp = 0;
  appendedCount = 0;

  constructor(options: CommitLogOptions) {
    this.dir = options.dir;
    this.segmentBytes = options.segmentBytes;
    this.maxMessageBytes = options.maxMessageBytes;
    this.prefaultCells = options.prefault ? native.prefaultWriter() : undefined;
    this.storeHost = options.storeHost;
    this.bornHost = options.bornHost;
    mkdirSync(this.dir, { recursive: true });
  }

  /**
   * Delete what a crash left of background preparations (prepareNext): files under a temporary
   * name, never a segment's. Recovery calls it before it reads the directory.
   */
  removeUnfinishedPreparations(): void {
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith(PREPARING_SUFFIX)) continue;
      if (parseSegmentFileName(name.slice(0, -PREPARING_SUFFIX.length)) === undefined) continue;
      rmSync(path.join(this.dir, name), { force: true });
    }
  }

  /** Segment files present on disk, oldest first (start offsets). */
  listSegmentFiles(): { fromOffset: number; size: number }[] {
    const found: { fromOffset: number; size: number }[] = [];
    for (const name of readdirSync(this.dir)) {
      const fromOffset = parseSegmentFileName(name);
      if (fromOffset === undefined) continue;
      found.push({ fromOffset, size: statSync(`${this.dir}/${name}`).size });
    }
    return found.sort((a, b) => a.fromOffset - b.fromOffset);
  }

  get minOffset(): number {
    return this.segments.length > 0 ? this.segments[0]!.fromOffset : 0;
  }

  get wroteOffset(): number {
    const last = this.segments[this.segments.length - 1];
    return last ? last.fromOffset + last.wrotePosition : 0;
  }

  get flushedOffset(): number {
    for (const seg of this.segments) {
      if (seg.flushedPosition < seg.wrotePosition) return seg.fromOffset + seg.flushedPosition;
    }
    return this.wroteOffset;
  }

  get sealedOffset(): number {
    for (const seg of this.segments) {
      if (seg.sealedPosition < seg.wrotePosition) return seg.fromOffset + seg.sealedPosition;
    }
    return this.wroteOffset;
  }

  get storeTimestampOfLastRecord(): number {
    return this.lastStoreTimestamp;
  }

  /** Where a new log starts writing (no segments yet). */
  startAt(offset: number): void {
    this.lastStartOffset = offset;
  }
  private lastStartOffset = 0;

  // --- append ------------------------------------------------------------------------------------

  private topicState(topic: unknown): TopicState {
    // the messages of a batch mostly share one topic: the last one found skips the map lookup
    if (topic === this.lastTopic && this.lastTopicState !== undefined) return this.lastTopicState;
    if (typeof topic === 'string') {
      const known = this.topics.get(topic);
      if (known) {
        this.lastTopic = topic;
        this.lastTopicState = known;
        return known;
      }
    }
    if (typeof topic !== 'string' || topic.length === 0 || !TOPIC_PATTERN.test(topic)) {
      throw new StoreError(
        'INVALID_TOPIC',
        `topic ${JSON.stringify(topic)} is not valid: use 1 to 127 characters from [A-Za-z0-9_%|-].`,
      );
    }
    const system = topic.startsWith('%RETRY%') || topic.startsWith('%DLQ%');
    if (topic.length > (system ? 255 : 127)) {
      throw new StoreError(
        'INVALID_TOPIC',
        `topic ${JSON.stringify(topic)} is longer than ${system ? 255 : 127} characters.`,
      );
    }
    const state: TopicState = { bytes: Buffer.from(topic, 'latin1'), nextQueueOffsets: [] };
    this.topics.set(topic, state);
    return state;
  }

  /** Next queue offset of (topic, queueId) without creating anything. */
  nextQueueOffset(topic: string, queueId: number): number {
    return this.topics.get(topic)?.nextQueueOffsets[queueId] ?? 0;
  }

  /** Every (topic, queueId) seen, with its next queue offset. */
  queueTable(): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const [topic, state] of this.topics) out.set(topic, state.nextQueueOffsets.slice());
    return out;
  }

  /**
   * Rebuild the queue table from the records after `from` (recovery). Reads the few fields it
   * needs in place — no record objects — and decodes each distinct topic name once.
   */
  replayQueueTable(from: number): void {
    const names = new Map<string, string>();
    let offset = Math.max(from, this.minOffset);
    for (const seg of this.segments) {
      const end = seg.fromOffset + seg.wrotePosition;
      if (end <= offset) continue;
      const v = seg.view;
      const buf = seg.buf;
      let pos = Math.max(0, offset - seg.fromOffset);
      while (pos + FIXED_V1_BYTES <= seg.wrotePosition) {
        const size = v.getInt32(pos, false);
        const magic = v.getInt32(pos + OFF_MAGIC, false);
        if (magic !== MAGIC_V1 && magic !== MAGIC_V2) break; // BLANK or the end
        const queueId = v.getInt32(pos + 12, false);
        const queueOffset = readInt64(v, pos + 20);
        const sysFlag = v.getInt32(pos + 36, false);
        const layout = recordLayout(v, pos);
        const storeTimestamp = readInt64(v, layout.storeTimestampPos);
        const topicPos = layout.bodyLengthPos + 4 + v.getInt32(layout.bodyLengthPos, false);
        const topicLength = magic === MAGIC_V2 ? v.getUint16(topicPos, false) : v.getUint8(topicPos);
        const start = topicPos + (magic === MAGIC_V2 ? 2 : 1);
        const raw = buf.toString('latin1', start, start + topicLength);
        let topic = names.get(raw);
        if (topic === undefined) {
          topic = buf.toString('utf8', start, start + topicLength);
          names.set(raw, topic);
        }
        this.noteRecord(topic, queueId, queueOffset, storeTimestamp, sysFlag);
        pos += size;
      }
      offset = seg.fromOffset + seg.size;
    }
  }

  /** Note a recovered record in the queue table (recovery replay). */
  noteRecord(topic: string, queueId: number, queueOffset: number, storeTimestamp: number, sysFlag = 0): void {
    if (storeTimestamp > this.lastStoreTimestamp) this.lastStoreTimestamp = storeTimestamp;
    const tranType = sysFlag & TRANSACTION_TYPE_MASK;
    if (tranType === TRANSACTION_PREPARED || tranType === TRANSACTION_ROLLBACK) return;
    const state = this.topicState(topic);
    const q = state.nextQueueOffsets;
    while (q.length <= queueId) q.push(0);
    if (queueOffset + 1 > q[queueId]!) q[queueId] = queueOffset + 1;
  }

  // Per-message results of validation, filled by check() and used by write(): one slot for a
  // single append, one per message for a batch.
  private readonly sTopic: TopicState[] = [];
  private readonly sBodyLength: number[] = [];
  private readonly sPropsLength: number[] = [];
  /** The message's sequence number in the batch's UniqKeyRun, or -1. */
  private readonly sRunSeq: number[] = [];
  private readonly sTotal: number[] = [];
  /** Queue offset given to the last record write() wrote. */
  private lastQueueOffset = 0;

  /** Validate a message and measure its record into scratch slot `i`. Writes nothing. */
  private check(msg: Message, i: number, run: UniqKeyRun | undefined): void {
    if (msg === null || typeof msg !== 'object') {
      throw new StoreError('INVALID_MESSAGE', 'append expects a message object { topic, body, … }.');
    }
    const state = this.topicState(msg.topic);
    const queueId = msg.queueId ?? 0;
    if (!Number.isInteger(queueId) || queueId < 0 || queueId > MAX_QUEUE_ID) {
      throw new StoreError(
        'INVALID_MESSAGE',
        `queueId ${String(queueId)} is not valid: use an integer 0–${MAX_QUEUE_ID}.`,
      );
    }
    const body = msg.body;
    let bodyLength: number;
    if (typeof body === 'string') bodyLength = Buffer.byteLength(body, 'utf8');
    else if (body instanceof Uint8Array) bodyLength = body.length;
    else throw new StoreError('INVALID_MESSAGE', 'message body must be a Uint8Array (Buffer) or a string.');
    if (bodyLength > this.maxMessageBytes) {
      throw new StoreError(
        'MESSAGE_TOO_LARGE',
        `message body is ${bodyLength} bytes, above the limit of ${this.maxMessageBytes}: split it or raise TIDEMQ_MAX_MESSAGE_BYTES.`,
      );
    }
    const seq = run === undefined ? -1 : runSequence(run, i);
    let propertiesLength = 0;
    if (
      msg.tags !== undefined ||
      msg.keys !== undefined ||
      msg.properties !== undefined ||
      msg.uniqKey !== undefined ||
      seq >= 0
    ) {
      propertiesLength = measurePropertiesBytes(msg, seq >= 0 ? run!.prefix.length + 8 : -1);
      if (propertiesLength > MAX_PROPERTIES_BYTES) {
        throw new StoreError(
          'MESSAGE_TOO_LARGE',
          `message properties take ${propertiesLength} bytes, above ${MAX_PROPERTIES_BYTES}.`,
        );
      }
    }
    if (
      (msg.flag !== undefined && !Number.isInteger(msg.flag)) ||
      (msg.sysFlag !== undefined && !Number.isInteger(msg.sysFlag)) ||
      (msg.reconsumeTimes !== undefined && !Number.isInteger(msg.reconsumeTimes))
    ) {
      throw new StoreError('INVALID_MESSAGE', 'flag, sysFlag and reconsumeTimes must be integers.');
    }
    // typeof, not `!== undefined`: comparing a double field with undefined boxes it first
    const bornTimestamp: unknown = msg.bornTimestamp;
    if (typeof bornTimestamp !== 'undefined' && !isSafeInteger(bornTimestamp)) {
      throw new StoreError('INVALID_MESSAGE', 'bornTimestamp must be an integer (ms since the epoch).');
    }
    const totalSize = recordSize(state.bytes.length, bodyLength, propertiesLength);
    if (totalSize + BLANK_BYTES > this.segmentBytes) {
      throw new StoreError(
        'MESSAGE_TOO_LARGE',
        `a record of ${totalSize} bytes does not fit a segment of ${this.segmentBytes} bytes: raise TIDEMQ_SEGMENT_BYTES.`,
      );
    }
    this.sTopic[i] = state;
    this.sBodyLength[i] = bodyLength;
    this.sPropsLength[i] = propertiesLength;
    this.sRunSeq[i] = seq;
    this.sTotal[i] = totalSize;
  }

  /**
   * Store time for the next record(s): wall clock, never going backwards. One reading per
   * append() call and one per appendBatch() call (a clock reading costs about as much as encoding
   * a small record on some VMs, which is much of what a batch saves).
   */
  private clock(): number {
    const now = Date.now();
    return now < this.lastStoreTimestamp ? this.lastStoreTimestamp : now;
  }

  /** Write a message checked into slot `i`. Returns its physical offset. May throw DISK_FULL. */
  private write(msg: Message, i: number, now: number, run?: UniqKeyRun): number {
    const totalSize = this.sTotal[i]!;
    const seg = this.segmentWithRoom(totalSize);
    const f = this.fields;
    f.flag = msg.flag ?? 0;
    f.sysFlag = msg.sysFlag ?? 0;
    f.reconsumeTimes = msg.reconsumeTimes ?? 0;
    const queueId = msg.queueId ?? 0;
    const state = this.sTopic[i]!;
    const q = state.nextQueueOffsets;
    while (q.length <= queueId) q.push(0);
    // Prepared and rolled-back transactional records take no queue offset (RocketMQ: 0).
    const tranType = f.sysFlag & TRANSACTION_TYPE_MASK;
    const consumesOffset = tranType !== TRANSACTION_PREPARED && tranType !== TRANSACTION_ROLLBACK;
    const queueOffset = consumesOffset ? q[queueId]! : 0;
    const pos = seg.wrotePosition;
    const physicalOffset = seg.fromOffset + pos;
    f.queueId = queueId;
    f.queueOffset = queueOffset;
    f.physicalOffset = physicalOffset;
    const bornTimestamp = msg.bornTimestamp; // checked: undefined or a number (typeof: see check)
    f.bornTimestamp = typeof bornTimestamp === 'number' ? bornTimestamp : now;
    f.storeTimestamp = now;
    const propertiesLength = this.sPropsLength[i]!;
    const propertiesPos = encodeRecord(
      seg.buf,
      seg.view,
      pos,
      totalSize,
      f,
      this.bornHost,
      this.storeHost,
      state.bytes,
      msg.body,
      this.sBodyLength[i]!,
      propertiesLength,
    );
    if (
      propertiesLength > 0 &&
      writePropertiesBytes(seg.buf, seg.view, propertiesPos, msg, run, this.sRunSeq[i]!) !==
        propertiesPos + propertiesLength
    ) {
      throw new Error('commit-log: the properties written differ from their measured length');
    }
    seg.wrotePosition = pos + totalSize;
    if (consumesOffset) q[queueId] = queueOffset + 1;
    this.lastStoreTimestamp = now;
    this.appendedCount++;
    this.lastQueueOffset = queueOffset;
    return physicalOffset;
  }

  /** Encode and write one record. Validates everything before writing anything. */
  append(msg: Message): AppendReceipt {
    this.check(msg, 0, undefined);
    const now = this.clock();
    const physicalOffset = this.write(msg, 0, now);
    this.prefaultAhead();
    return new AppendReceipt(
      physicalOffset,
      msg.queueId ?? 0,
      this.lastQueueOffset,
      now,
      this.sTotal[0]!,
      this.storeHost,
    );
  }

  /**
   * Write several records with one store timestamp; `uniqKeys` gives messages their UNIQ_KEY as
   * bytes (see UniqKeyRun). Every message is validated before the first is written, so bad input
   * writes nothing. Running out of disk part-way (DISK_FULL) leaves the leading records written;
   * the error's `written` says how many.
   */
  appendBatch(msgs: readonly Message[], uniqKeys?: UniqKeyRun): BatchAppendResult {
    if (!Array.isArray(msgs))
      throw new StoreError('INVALID_MESSAGE', 'appendBatch expects an array of messages.');
    const n = msgs.length;
    if (uniqKeys !== undefined) checkUniqKeyRun(uniqKeys, n);
    for (let i = 0; i < n; i++) this.check(msgs[i]!, i, uniqKeys);
    // A batch that fits one segment goes into one: if the active segment cannot take all of it,
    // roll now, so that running out of disk for the next segment (DISK_FULL) happens before
    // anything of the batch is written (as RocketMQ never splits a batch across files).
    let batchBytes = 0;
    for (let i = 0; i < n; i++) batchBytes += this.sTotal[i]!;
    if (n > 0 && batchBytes + BLANK_BYTES <= this.segmentBytes) this.segmentWithRoom(batchBytes);
    const now = this.clock();
    // two views of one buffer: one allocation (outside the JS heap) per batch, not two
    const offsets = new Float64Array(2 * n);
    const physicalOffsets = offsets.subarray(0, n);
    const queueOffsets = offsets.subarray(n);
    let end = this.wroteOffset;
    for (let i = 0; i < n; i++) {
      try {
        physicalOffsets[i] = this.write(msgs[i]!, i, now, uniqKeys);
      } catch (err) {
        if (err instanceof StoreError) Object.assign(err, { written: i });
        throw err;
      }
      queueOffsets[i] = this.lastQueueOffset;
      end = physicalOffsets[i]! + this.sTotal[i]!;
    }
    if (n > 0) this.prefaultAhead();
    return new BatchAppendResult(n, physicalOffsets, queueOffsets, now, end);
  }

  // --- segments ------------------------------------------------------------------------------------

  /**
   * The active segment if it has room for `bytes` more (and the BLANK record that ends a file);
   * else the next one, after padding the active one with a BLANK record. May throw DISK_FULL
   * from the roll, before anything is written.
   */
  private segmentWithRoom(bytes: number): MappedSegment {
    const seg = this.segments[this.segments.length - 1];
    if (seg === undefined || seg.full) return this.roll();
    if (seg.wrotePosition + bytes + BLANK_BYTES <= seg.size) return seg;
    const next = this.roll();
    encodeBlank(seg.view, seg.wrotePosition, seg.size - seg.wrotePosition);
    seg.wrotePosition = seg.size;
    seg.full = true;
    return next;
  }

  /** Make the next segment active: the prepared one, or a new one created now. */
  private roll(): MappedSegment {
    const last = this.segments[this.segments.length - 1];
    const fromOffset = last ? last.fromOffset + last.size : this.lastStartOffset;
    let seg = this.prepared;
    this.prepared = undefined;
    if (seg === undefined || seg.fromOffset !== fromOffset) {
      seg?.deleteFile();
      seg = this.createSegment(fromOffset);
    }
    this.segments.push(seg);
    this.nextFollowAt = 0;
    this.prefaultAhead();
    this.prepareNext();
    return seg;
  }

  /**
   * Publish the write position to the prefault thread, and once per step written renew its
   * follows: of the active segment, and of the prepared one once the lead reaches past the active
   * one's end (so a roll finds its first pages present). The thread keeps up between renewals by
   * itself, event loop or not.
   */
  private prefaultAhead(): void {
    const cells = this.prefaultCells;
    if (cells === undefined || this.closed) return;
    const seg = this.segments[this.segments.length - 1];
    if (seg === undefined || seg.full) return;
    const wrote = seg.fromOffset + seg.wrotePosition;
    cells[0] = wrote;
    if (wrote < this.nextFollowAt) return;
    this.nextFollowAt = wrote + PREFAULT_CHUNK_BYTES;
    this.follow(seg);
    const next = this.prepared;
    if (next !== undefined && wrote + PREFAULT_LEAD_BYTES > next.fromOffset) this.follow(next);
  }

  /** Prefault is a hint: a refusal never fails an append that is already written. */
  private follow(seg: MappedSegment): void {
    try {
      native.prefaultFollow(
        seg.mapping,
        this.prefaultCells!,
        seg.fromOffset,
        PREFAULT_LEAD_BYTES,
        PREFAULT_CHUNK_BYTES,
        PREFAULT_IDLE_MS,
      );
    } catch {
      // appends fault their pages in themselves
    }
  }

  private createSegment(fromOffset: number): MappedSegment {
    try {
      return MappedSegment.create(this.dir, fromOffset, this.segmentBytes);
    } catch (err) {
      const code = errnoCode(err);
      // The preparation in flight has just given the file its name, complete (it is renamed
      // only once allocated): map it. Its completion sees the segment in use and leaves it.
      if (code === 'EEXIST' && this.preparing?.fromOffset === fromOffset) {
        return MappedSegment.open(this.dir, fromOffset, this.segmentBytes);
      }
      if (code === 'ENOSPC' || code === 'EDQUOT') {
        throw new StoreError(
          'DISK_FULL',
          `no space for a new ${this.segmentBytes}-byte commit log segment in ${this.dir}: free disk space (retention deletes old segments) and retry.`,
          { cause: err },
        );
      }
      throw new StoreError('IO_ERROR', `cannot create commit log segment in ${this.dir}: ${String(err)}`, {
        cause: err,
      });
    }
  }

  /**
   * Create the segment after the active one in the background: the file is made and
   * preallocated on a libuv thread (posix_fallocate can wait tens of ms on the disk for block
   * bitmaps while writeback is busy, which on the JS thread stalled every producer and consumer
   * at each roll), under a temporary name that becomes the segment's only once it is complete;
   * mapping it afterwards, here, is a quick mmap. A roll that comes first creates the segment
   * itself (see createSegment), and the preparation then gives way.
   */
  private prepareNext(): void {
    if (this.preparing || this.prepared || this.closed) return;
    const last = this.segments[this.segments.length - 1];
    if (!last) return;
    const fromOffset = last.fromOffset + last.size;
    const finalPath = path.join(this.dir, segmentFileName(fromOffset));
    const done = native.allocateFile(finalPath + PREPARING_SUFFIX, finalPath, this.segmentBytes).then(
      (placed) => {
        this.preparing = undefined;
        if (placed) this.adoptPrepared(fromOffset, finalPath);
        this.prepareNext(); // rolls that came first have made this one: prepare the one after
      },
      () => {
        // No room now: the roll will try again and report DISK_FULL to its caller.
        this.preparing = undefined;
      },
    );
    this.preparing = { fromOffset, done };
  }

  /** A prepared file is complete under its name: map it, or delete it if it is not wanted now. */
  private adoptPrepared(fromOffset: number, finalPath: string): void {
    const last = this.segments[this.segments.length - 1];
    // Segments are contiguous: a roll that reached this offset made or mapped this file (in use).
    if (last && last.fromOffset >= fromOffset) return;
    if (this.closed || this.prepared || !last || last.fromOffset + last.size !== fromOffset) {
      rmSync(finalPath, { force: true });
      return;
    }
    try {
      this.prepared = MappedSegment.open(this.dir, fromOffset, this.segmentBytes);
    } catch {
      rmSync(finalPath, { force: true }); // the roll creates it again and reports what fails
      return;
    }
    this.nextFollowAt = 0;
    this.prefaultAhead();
  }

  private closed = false;

  /** Adopt segments found on disk (recovery decides positions). */
  adopt(seg: MappedSegment): void {
    this.segments.push(seg);
  }

  /**
   * Stop preparing and drop the prepared segment's file. Resolves once no preparation is in
   * flight (its file deleted too), so that a store opened on the directory next finds none.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.prefaultCells) this.prefaultCells[1] = 1;
    if (this.preparing) await this.preparing.done;
    if (this.prepared) {
      this.prepared.deleteFile();
      this.prepared = undefined;
    }
  }

  segmentFor(offset: number): MappedSegment | undefined {
    const segs = this.segments;
    if (segs.length === 0) return undefined;
    const first = segs[0]!;
    if (offset < first.fromOffset) return undefined;
    const guess = Math.floor((offset - first.fromOffset) / this.segmentBytes);
    const s = segs[guess];
    if (s && offset >= s.fromOffset && offset < s.fromOffset + s.size) return s;
    for (const seg of segs) if (offset >= seg.fromOffset && offset < seg.fromOffset + seg.size) return seg;
    return undefined;
  }

  // --- reads ---------------------------------------------------------------------------------------

  /** The record starting exactly at `offset`, or undefined. */
  get(offset: number): StoredRecord | undefined {
    const pos = this.locate(offset);
    if (pos < 0) return undefined;
    const seg = this.located!;
    this.located = undefined;
    return new StoredRecord(seg.mapping, seg.view, pos, offset, this.storeHost);
  }

  /**
   * The segment of the record the last locate() found. Callers clear it when done: it must not
   * keep a segment that retention deletes mapped (the unmapping waits for every reference).
   */
  located: MappedSegment | undefined;

  /**
   * get() without the record object, for readers that decode what they need themselves: the
   * position of the record starting exactly at `offset` inside its segment (then `located`),
   * or -1 — with the same checks as get(). `near`: a segment of this log found in the same
   * synchronous run (the last `located` of a scan: its next record is most often in it), tried
   * before the segment list.
   */
  locate(offset: number, near?: MappedSegment): number {
    if (!Number.isSafeInteger(offset) || offset < 0) return -1;
    const seg =
      near !== undefined && offset >= near.fromOffset && offset < near.fromOffset + near.size
        ? near
        : this.segmentFor(offset);
    if (!seg) return -1;
    const pos = offset - seg.fromOffset;
    if (pos + FIXED_V1_BYTES > seg.wrotePosition) return -1;
    const view = seg.view;
    const magic = view.getInt32(pos + OFF_MAGIC, false);
    if (magic !== MAGIC_V1 && magic !== MAGIC_V2) return -1;
    const size = view.getInt32(pos, false);
    if (size < FIXED_V1_BYTES || pos + size > seg.wrotePosition) return -1;
    if (readInt64(view, pos + OFF_PHYSICAL_OFFSET) !== offset) return -1;
    this.located = seg;
    return pos;
  }

  /** Records in commit-log order from `from` (a record start, or minOffset). */
  *scan(from?: number, maxMessages = Number.POSITIVE_INFINITY): Generator<StoredRecord> {
    let offset = from ?? this.minOffset;
    if (offset < this.minOffset) offset = this.minOffset;
    let count = 0;
    while (count < maxMessages) {
      const seg = this.segmentFor(offset);
      if (!seg) return;
      const pos = offset - seg.fromOffset;
      if (pos + 8 > seg.wrotePosition) {
        if (seg.full) {
          offset = seg.fromOffset + seg.size;
          continue;
        }
        return;
      }
      const magic = seg.view.getInt32(pos + OFF_MAGIC, false);
      if (magic === MAGIC_BLANK) {
        offset = seg.fromOffset + seg.size;
        continue;
      }
      const rec = this.get(offset);
      if (!rec) {
        if (count === 0 && from !== undefined) {
          throw new StoreError(
            'INVALID_OFFSET',
            `offset ${from} is not the start of a record in this store.`,
          );
        }
        return;
      }
      yield rec;
      count++;
      offset += rec.size;
    }
  }

  /** Remove segments whose files are gone from the list (retention), oldest first. */
  dropOldest(count: number): MappedSegment[] {
    return this.segments.splice(0, count);
  }
}
