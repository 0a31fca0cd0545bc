/**
 * Dispatch worker: runs in a Piscina thread. Each worker owns a fixed set of partitions
 * ((topic, queueId) whose hash mod workerCount is its index) and is the only writer of their
 * consume queues; worker 0 also owns the key index.
 *
 * Dispatch is one long-running task per worker (`loop`), not a task per range: the main thread
 * only moves a limit (the offset up to which records may be dispatched) in shared memory and
 * notifies; the worker walks the commit log from where it stopped up to the limit, mapping the
 * segment files itself, writes consume queue entries and index entries, publishes each touched
 * queue's entry count in shared memory, and then posts one small message ([end, records,
 * new slots?]) on its own port so the main thread can wake readers. A task per range cost the
 * main thread ~35 µs of Piscina bookkeeping and structured cloning each — thousands a second
 * under load. Between batches the loop yields (setImmediate) and, when caught up, waits with
 * Atomics.waitAsync, so the worker's event loop stays free for the maintenance tasks (flush,
 * retention) and for native finalizers.
 *
 * Every task of a worker runs on the same thread (each worker is its own one-thread pool), so
 * the per-thread state below stays coherent.
 */
import path from 'node:path';
import type { MessagePort } from 'node:worker_threads';
import { MapFlags, native } from '../native.js';
import { ConsumeQueue } from './consume-queue.js';
import { IndexFile, type IndexGeometry, listIndexFiles } from './index-file.js';
import { segmentFileName } from './mapped-segment.js';
import { found, hashText, scanProperties } from './property-scan.js';
import { collectGarbage } from './reclaim.js';
import {
  javaHashCode,
  MAGIC_BLANK,
  MAGIC_V1,
  MAGIC_V2,
  SYSFLAG_BORNHOST_V6,
  SYSFLAG_STOREHOST_V6,
} from './record-codec.js';
import { SharedProgress } from './shared-progress.js';

export interface InitTask {
  kind: 'init';
  storeDir: string;
  cqEntriesPerFile: number;
  indexGeometry: IndexGeometry;
  workerIndex: number;
  workerCount: number;
  shared: SharedArrayBuffer;
  slots: { topic: string; queueId: number; slot: number }[];
}

/**
 * Dispatch from `from` (in the segment starting at `segmentFromOffset`) for as long as the
 * dispatcher runs. `control` is the dispatcher's LoopControl buffer; `port` gets the progress.
 */
export interface LoopTask {
  kind: 'loop';
  /**
   * The worker's configuration, used when this thread has none: Piscina replaces a worker that
   * died (out of memory, a native fault) with a fresh thread that never got the init task.
   */
  init: InitTask;
  control: SharedArrayBuffer;
  from: number;
  segmentFromOffset: number;
  port: MessagePort;
}

export interface FlushTask {
  kind: 'flush';
}

export interface RetentionTask {
  kind: 'retention';
  minPhysicalOffset: number;
  /** Space is short: collect garbage now so the deleted segments' mappings go. */
  reclaim: boolean;
}

export type WorkerTask = InitTask | LoopTask | FlushTask | RetentionTask;

export interface NewSlot {
  topic: string;
  queueId: number;
  slot: number;
}

/**
 * What a worker posts after each batch: [physical offset up to which it has dispatched, records
 * walked, partitions it allocated a shared-progress slot for (only when there are some)]. A batch
 * with index work posts [-1, 0, slots?] first: its consume queue counts are published (readers
 * may go on) but the batch is not done.
 */
export type DispatchProgress = [end: number, records: number, newSlots?: NewSlot[]];

/**
 * Layout of the loop control buffer shared by the dispatcher and its workers:
 * Int32 [0] sequence (bumped with every new limit and at stop: what an idle worker waits on),
 * Int32 [1] stop flag, Int32 [2] number of loops waiting (the dispatcher notifies only then: a
 * notify costs microseconds, and the limit moves thousands of times a second),
 * BigInt64 at byte 16: the limit (records before it may be dispatched).
 */
export const CONTROL_BYTES = 24;
export const CTL_SEQ = 0;
export const CTL_STOP = 1;
export const CTL_IDLE = 2;
export const CTL_LIMIT_BYTE = 16;
const TWO_32 = 0x100000000;
/** Bytes walked before a batch publishes its progress (keeps catch-up after a restart incremental). */
const BATCH_BYTES = 1024 * 1024;

interface Partition {
  mine: boolean;
  cq: ConsumeQueue | undefined;
  slot: number;
  /** Task number that last wrote to this partition (to list touched partitions without a Set). */
  touchedIn: number;
  /** Set when entries wait for the next flush. */
  dirty: boolean;
}

interface TopicEntry {
  bytes: Uint8Array;
  /** The name's whole 4-byte words, big-endian (sameTopic compares a word per access). */
  words: Int32Array;
  topic: string;
  /** Java hashCode of `topic#`: an index key's hash continues from it over the key's chars. */
  keyHashPrefix: number;
  partitions: (Partition | undefined)[];
}

interface Segment {
  mapping: ArrayBuffer;
  view: DataView;
  buf: Buffer;
}

let init: InitTask | undefined;
let progress: SharedProgress | undefined;
const topicsByHash = new Map<number, TopicEntry[]>();
const segments = new Map<number, Segment>();
let index: IndexFile | undefined;
const dirtyQueues: Partition[] = [];
/** The partitions one batch appended to (reused from batch to batch). */
const touched: Partition[] = [];
let taskNumber = 0;
let lastTopic: TopicEntry | undefined;
let indexDirty = false;
/** Index files that filled up since the last flush: still to be flushed once. */
const retiredIndexes: IndexFile[] = [];

function segment(fromOffset: number): Segment {
  let s = segments.get(fromOffset);
  if (!s) {
    const file = path.join(init!.storeDir, 'commitlog', segmentFileName(fromOffset));
    const mapping = native.mapFile(file, 0, MapFlags.readOnly);
    s = { mapping, view: new DataView(mapping), buf: Buffer.from(mapping) };
    segments.set(fromOffset, s);
  }
  return s;
}

/**
 * Keep only the newest segment mapped between tasks: the others are behind the dispatcher for
 * good (or deleted by retention), and a deleted segment's disk space comes back only once no
 * thread maps it. Releasing is immediate (detach), not left to a garbage collection.
 */
function releaseOlderSegments(): void {
  let newest = -1;
  for (const from of segments.keys()) if (from > newest) newest = from;
  for (const [from, seg] of segments) {
    if (from !== newest) {
      segments.delete(from);
      native.releaseMapping(seg.mapping);
    }
  }
}

/** The topic of the name at view/buf[start, start + length) (the same bytes seen two ways). */
function topicEntry(view: DataView, buf: Buffer, start: number, length: number): TopicEntry {
  const last = lastTopic;
  if (last !== undefined && sameTopic(last, view, buf, start, length)) return last;
  lastTopic = lookupTopic(view, buf, start, length);
  return lastTopic;
}

function sameTopic(e: TopicEntry, view: DataView, buf: Buffer, start: number, length: number): boolean {
  if (e.bytes.length !== length) return false;
  const words = e.words;
  for (let w = 0; w < words.length; w++) if (view.getInt32(start + w * 4, false) !== words[w]) return false;
  for (let i = words.length * 4; i < length; i++) if (buf[start + i] !== e.bytes[i]) return false;
  return true;
}

function lookupTopic(view: DataView, buf: Buffer, start: number, length: number): TopicEntry {
  let h = 0x811c9dc5;
  for (let i = 0; i < length; i++) h = Math.imul(h ^ buf[start + i]!, 0x01000193);
  const list = topicsByHash.get(h);
  if (list) {
    for (const e of list) if (sameTopic(e, view, buf, start, length)) return e;
  }
  const copy = Uint8Array.prototype.slice.call(buf, start, start + length);
  const words = new Int32Array(length >>> 2);
  for (let w = 0; w < words.length; w++) words[w] = view.getInt32(start + w * 4, false);
  const topic = Buffer.from(copy).toString('utf8');
  const entry: TopicEntry = {
    bytes: copy,
    words,
    topic,
    keyHashPrefix: javaHashCode(`${topic}#`),
    partitions: [],
  };
  if (list) list.push(entry);
  else topicsByHash.set(h, [entry]);
  return entry;
}

export function ownerOf(topic: string, queueId: number, workerCount: number): number {
  return ((Math.imul(javaHashCode(topic), 31) + queueId) >>> 0) % workerCount;
}

/**
 * Slots allocated here and not yet posted to the dispatcher. Kept across a failed batch: the
 * partition (and its slot) may outlive the failure, and the retry would not announce it again.
 */
let unannounced: NewSlot[] = [];

function partition(t: TopicEntry, queueId: number): Partition {
  let p = t.partitions[queueId];
  if (p) return p;
  const cfg = init!;
  const mine = ownerOf(t.topic, queueId, cfg.workerCount) === cfg.workerIndex;
  let slot = -1;
  if (mine) {
    slot = progress!.slotFor(t.topic, queueId);
    if (slot < 0) {
      slot = progress!.allocateSlot();
      unannounced.push({ topic: t.topic, queueId, slot });
    }
  }
  const created: Partition = {
    mine,
    slot,
    cq: mine ? new ConsumeQueue(cfg.storeDir, t.topic, queueId, cfg.cqEntriesPerFile) : undefined,
    touchedIn: -1,
    dirty: false,
  };
  p = created;
  while (t.partitions.length < queueId) t.partitions.push(undefined);
  t.partitions[queueId] = p;
  return p;
}

function currentIndex(): IndexFile {
  if (index && !index.full) return index;
  const cfg = init!;
  if (!index) {
    const files = listIndexFiles(cfg.storeDir);
    const newest = files[files.length - 1];
    const opened = newest ? IndexFile.open(newest, cfg.indexGeometry) : undefined;
    if (opened && !opened.full) {
      index = opened;
      return index;
    }
  }
  // the full file is flushed by the next flush task, which reports no coverage before it is
  if (index) retiredIndexes.push(index);
  index = IndexFile.create(path.join(cfg.storeDir, 'index'), Date.now(), cfg.indexGeometry);
  return index;
}

/** Where the loop is: the segment it reads and the position in it. */
interface Cursor {
  segmentFromOffset: number;
  pos: number;
}

/**
 * The loop of dispatchBatch, in a function of its own: V8 compiles a long first batch's loop on
 * the stack (OSR), before the code after it ever ran, and that code then lacked the feedback for
 * its calls — each later batch deoptimized there (hundreds of times a second under load) and ran
 * its start unoptimized. Returns the records walked; the partitions appended to are in `touched`.
 */
function walkRecords(cursor: Cursor, limit: number, taskNo: number): number {
  const ownsIndex = init!.workerIndex === 0;
  let records = 0;
  let walked = 0;
  while (cursor.segmentFromOffset + cursor.pos < limit && walked < BATCH_BYTES) {
    const from = cursor.segmentFromOffset;
    const seg = segment(from);
    const { view, buf } = seg;
    const size = seg.mapping.byteLength;
    const end = Math.min(size, limit - from);
    let pos = cursor.pos;
    const startPos = pos;
    let nextSegment = false;
    while (pos + 8 <= end && walked + (pos - startPos) < BATCH_BYTES) {
      const totalSize = view.getInt32(pos, false);
      const magic = view.getInt32(pos + 4, false);
      if (magic === MAGIC_BLANK) {
        nextSegment = true;
        break;
      }
      if ((magic !== MAGIC_V1 && magic !== MAGIC_V2) || totalSize <= 0 || pos + totalSize > end) {
        throw new Error(`dispatch: no valid record at ${from + pos} (magic ${magic}, size ${totalSize})`);
      }
      const phys = from + pos;
      const queueId = view.getInt32(pos + 12, false);
      // readInt64 by hand: as a call (dispatchBatch is past V8's inlining budget) it returns a heap number
      const queueOffset = view.getInt32(pos + 20, false) * TWO_32 + view.getUint32(pos + 24, false);
      const sysFlag = view.getInt32(pos + 36, false);
      const bornHostBytes = sysFlag & SYSFLAG_BORNHOST_V6 ? 20 : 8;
      const storeTsPos = pos + 48 + bornHostBytes;
      const storeTimestamp =
        view.getInt32(storeTsPos, false) * TWO_32 + view.getUint32(storeTsPos + 4, false);
      const bodyLenPos = storeTsPos + 8 + (sysFlag & SYSFLAG_STOREHOST_V6 ? 20 : 8) + 12;
      const bodyLength = view.getInt32(bodyLenPos, false);
      let p = bodyLenPos + 4 + bodyLength;
      const v2 = magic === MAGIC_V2;
      const topicLength = v2 ? view.getUint16(p, false) : view.getUint8(p);
      p += v2 ? 2 : 1;
      const t = topicEntry(view, buf, p, topicLength);
      p += topicLength;
      const propsLength = view.getInt16(p, false);
      const propsStart = p + 2;
      if (propsLength > 0) scanProperties(view, buf, propsStart, propsStart + propsLength);
      const tranType = sysFlag & 0xc;
      const part = partition(t, queueId);
      if (part.mine && tranType !== 4 && tranType !== 12) {
        const tagsCode =
          propsLength > 0 && found.tagsEnd > found.tagsStart && found.tagsStart >= 0
            ? hashText(0, view, buf, found.tagsStart, found.tagsEnd)
            : 0;
        if (part.cq!.append(queueOffset, phys, totalSize, tagsCode)) {
          if (part.touchedIn !== taskNo) {
            part.touchedIn = taskNo;
            touched.push(part);
          }
          if (!part.dirty) {
            part.dirty = true;
            dirtyQueues.push(part);
          }
        }
      }
      if (ownsIndex && tranType !== 12 && propsLength > 0 && (found.keysStart >= 0 || found.uniqStart >= 0)) {
        pendingKeys.add(seg, t, phys, storeTimestamp, found);
      }
      records++;
      pos += totalSize;
    }
    walked += pos - startPos;
    if (nextSegment || pos + 8 > size) {
      // the rest of this segment is padding: the next one starts where this file ends
      cursor.segmentFromOffset = from + size;
      cursor.pos = 0;
    } else {
      cursor.pos = pos;
      if (pos + 8 > end) break; // at the limit
    }
  }
  return records;
}

/**
 * Walk records from the cursor up to `limit` (at most about BATCH_BYTES), write this worker's
 * consume queue entries and index entries, publish the touched queues' counts, and move the
 * cursor. A BLANK record (or the end of the file) sends the cursor to the next segment, which
 * starts where this one ends. Returns the progress to post; when the batch has keys to index,
 * the counts are posted on `port` first and the index entries added after.
 */
function dispatchBatch(cursor: Cursor, limit: number, port: MessagePort): DispatchProgress {
  pendingKeys.clear();
  touched.length = 0;
  const records = walkRecords(cursor, limit, ++taskNumber);
  for (const part of touched) progress!.setCount(part.slot, part.cq!.maxOffset);
  progress!.publish();
  const end = cursor.segmentFromOffset + cursor.pos;
  const newSlots = unannounced.length > 0 ? unannounced : undefined;
  if (newSlots) unannounced = [];
  if (pendingKeys.count > 0) {
    // Consumers read the consume queues, not the index: let them in before the index work.
    port.postMessage(newSlots ? [-1, 0, newSlots] : [-1, 0]);
    pendingKeys.index();
    releaseOlderSegments();
    return [end, records];
  }
  releaseOlderSegments();
  return newSlots ? [end, records, newSlots] : [end, records];
}

/** Atomics.waitAsync (Node ≥ 16; not in the ES2023 typings this project compiles against). */
export const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      a: Int32Array,
      index: number,
      value: number,
      timeoutMs?: number,
    ): { async: boolean; value: unknown };
  }
).waitAsync;

/** Longest a caught-up loop blocks its thread before letting the worker's event loop run. */
const IDLE_SLICE_MS = 20;
/** After dispatching, look for more every POLL_MS without asking to be woken, for HOT_MS. */
const POLL_MS = 1;
const HOT_MS = 50;
/** Maintenance tasks (flush, retention) running on this thread: the loop must not block it then. */
let maintaining = 0;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Dispatch up to the shared limit until the dispatcher sets the stop flag (see the header).
 *
 * Waking a sleeping worker is what costs: ~15 µs of the main thread per Atomics.notify on this
 * 2-core machine under load (the woken thread preempts it), and the limit moves thousands of
 * times a second. So a loop that dispatched in the last HOT_MS does not ask to be woken: it
 * sleeps POLL_MS at a time and looks again (≤ 1 ms more latency, ≤ 1000 wake-ups a second,
 * none of them charged to the main thread). A loop idle for longer announces itself (CTL_IDLE)
 * and blocks in Atomics.wait for at most IDLE_SLICE_MS; the dispatcher notifies it. After every
 * wait the worker's event loop runs (a Piscina task arriving meanwhile starts then); while a
 * maintenance task runs here (its msync continuations need the event loop) the loop waits
 * asynchronously instead of blocking.
 */
async function loop(task: LoopTask): Promise<void> {
  const ctl = new Int32Array(task.control, 0, 3);
  const limitCell = new BigInt64Array(task.control, CTL_LIMIT_BYTE, 1);
  const cursor: Cursor = {
    segmentFromOffset: task.segmentFromOffset,
    pos: task.from - task.segmentFromOffset,
  };
  let lastWork = 0;
  try {
    for (;;) {
      const seq = Atomics.load(ctl, CTL_SEQ);
      if (Atomics.load(ctl, CTL_STOP) !== 0) return;
      const limit = Number(Atomics.load(limitCell, 0));
      if (cursor.segmentFromOffset + cursor.pos < limit) {
        task.port.postMessage(dispatchBatch(cursor, limit, task.port));
        lastWork = Date.now();
        await yieldToEventLoop();
        continue;
      }
      if (Date.now() - lastWork < HOT_MS) {
        if (maintaining > 0) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        else {
          Atomics.wait(ctl, CTL_SEQ, seq, POLL_MS);
          await yieldToEventLoop();
        }
        continue;
      }
      // Announce the wait, then look again: a limit moved in between is seen here, or the
      // dispatcher sees the announcement and notifies (both sides use sequentially consistent
      // Atomics, so one of the two happens).
      Atomics.add(ctl, CTL_IDLE, 1);
      try {
        if (Atomics.load(ctl, CTL_SEQ) !== seq) continue;
        if (maintaining > 0) {
          const wait = waitAsync(ctl, CTL_SEQ, seq);
          if (wait.async) await wait.value;
        } else Atomics.wait(ctl, CTL_SEQ, seq, IDLE_SLICE_MS);
      } finally {
        Atomics.sub(ctl, CTL_IDLE, 1);
      }
      await yieldToEventLoop();
    }
  } finally {
    releaseOlderSegments();
    task.port.close();
  }
}

/** Run a maintenance task with the dispatch loop waiting asynchronously (see loop). */
async function maintain(step: () => void | Promise<void>): Promise<void> {
  maintaining++;
  try {
    await step();
  } finally {
    maintaining--;
  }
}

/**
 * The index entries of a batch, collected while its consume queue entries are written and added
 * after those are published (worker 0). Reused from batch to batch: no object per record.
 */
class PendingKeys {
  count = 0;
  private readonly segs: (Segment | undefined)[] = [];
  private readonly topics: TopicEntry[] = [];
  /** phys, storeTimestamp per record (doubles). */
  private readonly nums: number[] = [];
  /** keysStart, keysEnd, uniqStart, uniqEnd per record: small integers, kept apart from the
   * doubles so the hash loops run on int32 positions. */
  private readonly ranges: number[] = [];

  add(seg: Segment, topic: TopicEntry, phys: number, storeTimestamp: number, at: typeof found): void {
    const i = this.count++;
    this.segs[i] = seg;
    this.topics[i] = topic;
    const n = this.nums;
    n[i * 2] = phys;
    n[i * 2 + 1] = storeTimestamp;
    const r = this.ranges;
    const k = i * 4;
    r[k] = at.keysStart;
    r[k + 1] = at.keysEnd;
    r[k + 2] = at.uniqStart;
    r[k + 3] = at.uniqEnd;
  }

  /** The batch's keys, hashed, with their records' offsets and times (reused; grown by doubling). */
  private keyHashes = new Int32Array(1024);
  private keyPhys = new Float64Array(1024);
  private keyTimes = new Float64Array(1024);
  private keys = 0;

  private addKey(javaHash: number, phys: number, storeTimestamp: number): void {
    const k = this.keys++;
    if (k === this.keyHashes.length) {
      const grow = <T extends Int32Array | Float64Array>(a: T, make: (n: number) => T): T => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.keyHashes = grow(this.keyHashes, (n) => new Int32Array(n));
      this.keyPhys = grow(this.keyPhys, (n) => new Float64Array(n));
      this.keyTimes = grow(this.keyTimes, (n) => new Float64Array(n));
    }
    this.keyHashes[k] = javaHash;
    this.keyPhys[k] = phys;
    this.keyTimes[k] = storeTimestamp;
  }

  /**
   * Add every collected key (each of KEYS, split at spaces, then UNIQ_KEY) as `topic#key`: all
   * of them hashed first, then added in one call per index file.
   */
  index(): void {
    try {
      this.hashKeys();
      const n = this.keys;
      let idx = currentIndex();
      let done = 0;
      while (done < n) {
        done += idx.putHashes(this.keyHashes, this.keyPhys, this.keyTimes, done, n);
        if (done < n) {
          // full: the rest go to a new file (a new file that takes nothing drops the key, as ever)
          idx = currentIndex();
          const added = idx.putHashes(this.keyHashes, this.keyPhys, this.keyTimes, done, n);
          done += added > 0 ? added : 1;
        }
      }
    } finally {
      this.clear();
    }
  }

  private hashKeys(): void {
    const n = this.nums;
    const r = this.ranges;
    const idx = currentIndex();
    // Records at or below the index's end are there already (re-dispatch). Offsets grow within
    // a batch, so once one record is past the end every later one is too.
    let behind = true;
    for (let i = 0; i < this.count; i++) {
      const phys = n[i * 2]!;
      if (behind) {
        if (idx.indexCount > 1 && phys <= idx.endPhyOffset) continue;
        behind = false;
      }
      const { view, buf } = this.segs[i]!;
      const prefix = this.topics[i]!.keyHashPrefix;
      const ts = n[i * 2 + 1]!;
      const k = i * 4;
      const keysStart = r[k]!;
      if (keysStart >= 0) {
        const keysEnd = r[k + 1]!;
        let s = keysStart;
        for (let j = keysStart; j <= keysEnd; j++) {
          if (j < keysEnd && buf[j] !== 0x20) continue;
          if (j > s) this.addKey(hashText(prefix, view, buf, s, j), phys, ts);
          s = j + 1;
        }
      }
      const uniqStart = r[k + 2]!;
      const uniqEnd = r[k + 3]!;
      if (uniqStart >= 0 && uniqEnd > uniqStart)
        this.addKey(hashText(prefix, view, buf, uniqStart, uniqEnd), phys, ts);
      indexDirty = true;
    }
  }

  /** Forget what was collected (a failed batch is walked again from its start). */
  clear(): void {
    for (let i = 0; i < this.count; i++) this.segs[i] = undefined;
    this.count = 0;
    this.keys = 0;
  }
}

const pendingKeys = new PendingKeys();

/**
 * Force this worker's consume queues and index files to disk. What a failed msync leaves
 * unflushed stays marked, so the next flush covers it again (a failed flush reports nothing:
 * the dispatcher records coverage only after every worker's flush succeeded).
 */
async function flush(): Promise<void> {
  const queues = dirtyQueues.splice(0);
  for (const part of queues) part.dirty = false;
  try {
    for (const part of queues) await part.cq!.flush();
  } catch (err) {
    for (const part of queues) {
      if (part.dirty) continue;
      part.dirty = true;
      dirtyQueues.push(part);
    }
    throw err;
  }
  while (retiredIndexes.length > 0) {
    await retiredIndexes[0]!.flush();
    retiredIndexes.shift();
  }
  if (indexDirty && index) {
    indexDirty = false;
    try {
      await index.flush();
    } catch (err) {
      indexDirty = true;
      throw err;
    }
  }
}

function retention(minPhysicalOffset: number): void {
  // A deleted segment's space is only returned once no thread maps it: release this thread's
  // private mappings of deleted segments now rather than at some later garbage collection.
  for (const [from, seg] of segments) {
    if (from < minPhysicalOffset) {
      segments.delete(from);
      native.releaseMapping(seg.mapping);
    }
  }
  for (const list of topicsByHash.values()) {
    for (const t of list) for (const p of t.partitions) p?.cq?.deleteBefore(minPhysicalOffset);
  }
  if (init!.workerIndex === 0) {
    const files = listIndexFiles(init!.storeDir);
    for (const f of files.slice(0, -1)) {
      const idx = IndexFile.open(f, init!.indexGeometry, true);
      if (idx && idx.endPhyOffset < minPhysicalOffset) idx.destroy();
    }
  }
}

function initialize(task: InitTask): void {
  init = task;
  // Both done here, at the dispatch pool thread's first task: the module is also imported for its
  // constants by whatever thread opens a store (the main thread, or a user's own worker).
  native.setThreadName('tidemq-dispatch'); // as top -H and perf show this thread
  // V8 assumes no ArrayBuffer has been detached in an isolate until one is, and then discards every
  // optimized function that reads a typed array or DataView (its detach protector). releaseMapping
  // detaches; without this, the first segment roll deoptimized all of this worker's hot code at
  // once and recompiling it took ~60 ms of both cores (the end-to-end tail after the first roll).
  // Detach a buffer of our own now, before anything is optimized; the thread that opens the store
  // never detaches (its typed-array code keeps V8's cheaper no-detach form).
  const spent = new ArrayBuffer(1);
  structuredClone(spent, { transfer: [spent] });
  progress = new SharedProgress(task.shared);
  for (const s of task.slots) progress.registerSlot(s.topic, s.queueId, s.slot);
}

export default async function run(task: WorkerTask): Promise<void> {
  switch (task.kind) {
    case 'init':
      initialize(task);
      return;
    case 'loop':
      if (init === undefined) initialize(task.init);
      return loop(task);
    case 'flush':
      return maintain(flush);
    case 'retention':
      return maintain(() => {
        retention(task.minPhysicalOffset);
        if (task.reclaim) collectGarbage();
      });
  }
}
