/**
 * Reads through the derived files on the main thread: consume queue reads with tag filtering,
 * offsets by time, key lookups. Only dispatched entries are visible (counts come from the
 * dispatcher's shared progress); bodies are zero-copy views of the commit log mapping.
 */
import { StoreError } from '../errors.js';
import type { CommitLog } from './commit-log.js';
import { ConsumeQueue, CQ_ENTRY_BYTES } from './consume-queue.js';
import { IndexFile, type IndexGeometry, listIndexFiles } from './index-file.js';
import type { MappedSegment } from './mapped-segment.js';
import {
  type HostAddress,
  javaHashCode,
  PROPERTY_UNIQ_KEY,
  readInt64,
  StoredRecord,
} from './record-codec.js';
import type { SharedProgress } from './shared-progress.js';
import { splitTags } from './tag-filter.js';

/** Largest result array made at its final size up front (bigger ones grow as they fill). */
const PRESIZE_MAX = 4096;
/** Entries scanned per read() call at most when a tag filter skips most of them. */
const MAX_SCAN_ENTRIES = 64 * 1024;
export const DEFAULT_QUERY_MAX = 32;
export const MAX_QUERY_MAX = 64;

export type ReadOf<T> = T[] & {
  /** The queue offset to read from next (past the scanned entries, matching or not). */
  nextQueueOffset: number;
};
export type ReadResult = ReadOf<StoredRecord>;

/** Makes one result of readWith from a record in place: its segment and position, its offset. */
export type RecordMaker<T> = (
  segment: MappedSegment,
  pos: number,
  physicalOffset: number,
  storeHost: HostAddress,
) => T;

/** read()'s argument checks (the typed errors); returns the tag expression. */
function checkRead(
  queueOffset: number,
  maxMessages: number,
  tagExpr: string | undefined,
): string | undefined {
  if (!Number.isSafeInteger(queueOffset) || queueOffset < 0) {
    throw new StoreError(
      'INVALID_OFFSET',
      `queue offset ${String(queueOffset)} is not a non-negative integer.`,
    );
  }
  if (!Number.isInteger(maxMessages) || maxMessages < 0) {
    throw new StoreError(
      'INVALID_MESSAGE',
      `maxMessages ${String(maxMessages)} is not a non-negative integer.`,
    );
  }
  return tagExpr;
}

interface TagFilter {
  codes: Set<number>;
  tags: Set<string>;
}

function parseTagFilter(expr: string | undefined): TagFilter | undefined {
  if (expr === undefined) return undefined;
  if (typeof expr !== 'string') {
    throw new StoreError('INVALID_MESSAGE', "a tag filter is a string: '*' or 'a||b'.");
  }
  const tags = splitTags(expr);
  if (tags === undefined || tags.size === 0) return undefined;
  return { tags, codes: new Set([...tags].map(javaHashCode)) };
}

/**
 * A queue's first offset whose record retention has not deleted, as last computed: it holds
 * while the commit log's minOffset and the queue's own minOffset are the same (records are only
 * appended after it, at higher physical offsets); past `checkedTo` only new entries need a look.
 */
interface MinCache {
  logMin: number;
  queueMin: number;
  min: number;
  checkedTo: number;
}

interface QueueSlot {
  cq: ConsumeQueue;
  min: MinCache | undefined;
}

export class QueueReader {
  private readonly queues = new Map<string, QueueSlot>();
  private readonly indexFiles = new Map<string, IndexFile>();
  private readonly entry = { physicalOffset: 0, size: 0, tagsCode: 0 };

  constructor(
    private readonly storeDir: string,
    private readonly log: CommitLog,
    private readonly progress: () => SharedProgress,
    private readonly cqEntriesPerFile: number,
    private readonly indexGeometry: IndexGeometry,
  ) {}

  private slot(topic: string, queueId: number): QueueSlot | undefined {
    const key = `${topic}\u0000${queueId}`;
    let s = this.queues.get(key);
    if (!s) {
      if (this.progress().count(topic, queueId) === 0) return undefined;
      s = {
        // the end comes from the shared progress: no walk over the queue's entries at open
        cq: new ConsumeQueue(this.storeDir, topic, queueId, this.cqEntriesPerFile, true, false),
        min: undefined,
      };
      this.queues.set(key, s);
    }
    return s;
  }

  private queue(topic: string, queueId: number): ConsumeQueue | undefined {
    return this.slot(topic, queueId)?.cq;
  }

  maxOffset(topic: string, queueId: number): number {
    return this.progress().count(topic, queueId);
  }

  minOffset(topic: string, queueId: number): number {
    const s = this.slot(topic, queueId);
    if (!s) return 0;
    const q = s.cq;
    const max = this.maxOffset(topic, queueId);
    const logMin = this.log.minOffset;
    let c = s.min;
    if (c === undefined || c.logMin !== logMin || c.queueMin !== q.minOffset) {
      c = { logMin, queueMin: q.minOffset, min: q.minOffset, checkedTo: q.minOffset };
      s.min = c;
    } else if (c.min < c.checkedTo || c.checkedTo >= max) return c.min;
    // Skip entries whose records retention already deleted (binary search: offsets grow).
    let lo = c.min;
    let hi = max;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const e = this.entryAt(q, mid);
      if (e && e.physicalOffset >= logMin) hi = mid;
      else lo = mid + 1;
    }
    c.min = lo;
    c.checkedTo = max;
    return lo;
  }

  private entryAt(q: ConsumeQueue, queueOffset: number): typeof this.entry | undefined {
    const f = this.fileOf(q, queueOffset * CQ_ENTRY_BYTES);
    if (!f) return undefined;
    const pos = queueOffset * CQ_ENTRY_BYTES - f.fromOffset;
    const e = this.entry;
    e.physicalOffset = readInt64(f.view, pos);
    e.size = f.view.getInt32(pos + 8, false);
    e.tagsCode = readInt64(f.view, pos + 12);
    return e;
  }

  /** The file holding logical byte `byte`, mapping files the dispatcher created since. */
  private fileOf(q: ConsumeQueue, byte: number): { fromOffset: number; view: DataView } | undefined {
    let f = q.fileAt(byte);
    if (!f) {
      q.mapNewFiles();
      f = q.fileAt(byte);
    }
    return f;
  }

  read(
    topic: string,
    queueId: number,
    queueOffset: number,
    maxMessages: number,
    tagExpr?: string,
  ): ReadResult {
    const filter = parseTagFilter(checkRead(queueOffset, maxMessages, tagExpr));
    const out = this.scan(topic, queueId, queueOffset, maxMessages, filter, this.makeRecord) as ReadResult;
    out.nextQueueOffset = this.scanned;
    return out;
  }

  /**
   * read() without a filter, each result made by `make` from the record in place (no
   * StoredRecord in between: a consumer that builds its own object per message decodes once).
   * A plain array (no nextQueueOffset): the caller may hand it on as it is.
   */
  readWith<T>(
    topic: string,
    queueId: number,
    queueOffset: number,
    maxMessages: number,
    make: RecordMaker<T>,
  ): T[] {
    checkRead(queueOffset, maxMessages, undefined);
    return this.scan(topic, queueId, queueOffset, maxMessages, undefined, make);
  }

  private readonly makeRecord: RecordMaker<StoredRecord> = (seg, pos, phys, host) =>
    new StoredRecord(seg.mapping, seg.view, pos, phys, host);

  /**
   * The entries from queueOffset, each one's record made by `make`; `make` is makeRecord
   * whenever there is a filter (its tag is checked on the record).
   */
  private scan<T>(
    topic: string,
    queueId: number,
    queueOffset: number,
    maxMessages: number,
    filter: TagFilter | undefined,
    make: RecordMaker<T>,
  ): T[] {
    const q = this.queue(topic, queueId);
    const max = this.maxOffset(topic, queueId);
    let offset = queueOffset;
    if (q && offset < q.minOffset) offset = q.minOffset;
    const scanEnd = Math.min(max, offset + Math.max(MAX_SCAN_ENTRIES, maxMessages));
    // Sized once for what can come back (a batch read fills it; growing by push copies it
    // several times), trimmed at the end.
    const room = Math.max(0, Math.min(maxMessages, scanEnd - offset));
    const out: T[] = room <= PRESIZE_MAX ? new Array(room) : [];
    let n = 0;
    if (q) {
      const log = this.log;
      log.located = undefined; // only a segment this scan found is tried first (see locate)
      const fileBytes = q.fileBytes;
      let f: { fromOffset: number; view: DataView } | undefined;
      let fileEnd = -1;
      while (offset < scanEnd && n < maxMessages) {
        const byte = offset * CQ_ENTRY_BYTES;
        offset++;
        // one file lookup per file, not per entry
        if (byte >= fileEnd) {
          f = this.fileOf(q, byte);
          if (!f) {
            fileEnd = -1;
            continue;
          }
          fileEnd = f.fromOffset + fileBytes;
        }
        const view = f!.view;
        const pos = byte - f!.fromOffset;
        const size = view.getInt32(pos + 8, false);
        if (size <= 0 || size === 0x7fffffff) continue;
        if (filter && !filter.codes.has(readInt64(view, pos + 12))) continue;
        const phys = readInt64(view, pos);
        const at = log.locate(phys, log.located);
        if (at < 0) continue; // deleted by retention
        const made = make(log.located!, at, phys, log.storeHost);
        // hash collision (with a filter, `made` is a StoredRecord)
        if (filter && !filter.tags.has((made as StoredRecord).tags ?? '')) continue;
        out[n++] = made;
      }
    }
    this.log.located = undefined; // no segment kept mapped by the read (see CommitLog.located)
    out.length = n;
    this.scanned = offset;
    return out;
  }

  /** Where the last scan stopped (read()'s nextQueueOffset). */
  private scanned = 0;

  /** First queue offset whose record was stored at or after `timestampMs`. */
  offsetForTimestamp(topic: string, queueId: number, timestampMs: number): number {
    const q = this.queue(topic, queueId);
    if (!q) return 0;
    let lo = this.minOffset(topic, queueId);
    let hi = this.maxOffset(topic, queueId);
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const e = this.entryAt(q, mid);
      const rec = e ? this.log.get(e.physicalOffset) : undefined;
      if (rec && rec.storeTimestamp >= timestampMs) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  queryByKey(
    topic: string,
    key: string,
    maxMessages = DEFAULT_QUERY_MAX,
    beginMs = 0,
    endMs = Number.MAX_SAFE_INTEGER,
  ): StoredRecord[] {
    if (typeof key !== 'string' || key.length === 0) {
      throw new StoreError('INVALID_MESSAGE', 'queryByKey needs a non-empty key.');
    }
    const max = Math.min(Math.max(1, maxMessages), MAX_QUERY_MAX);
    const files = listIndexFiles(this.storeDir);
    const found: StoredRecord[] = [];
    const seen = new Set<number>();
    const offsets: number[] = [];
    for (let i = files.length - 1; i >= 0 && found.length < max; i--) {
      const file = files[i]!;
      let idx = this.indexFiles.get(file);
      if (!idx) {
        idx = IndexFile.open(file, this.indexGeometry, true);
        if (!idx) continue;
        this.indexFiles.set(file, idx);
      }
      if (idx.indexCount <= 1) continue;
      if (idx.endTimestamp < beginMs || idx.beginTimestamp > endMs) continue;
      offsets.length = 0;
      // Candidates are verified against the real record as the chain is walked, so colliding keys
      // and entries outside [beginMs, endMs] (the index keeps whole seconds) never use up `max`.
      idx.lookup(`${topic}#${key}`, max - found.length, beginMs, endMs, offsets, (phys) => {
        if (seen.has(phys)) return false;
        seen.add(phys);
        const rec = this.log.get(phys);
        if (!rec || rec.topic !== topic) return false;
        if (!rec.keys.includes(key) && rec.properties[PROPERTY_UNIQ_KEY] !== key) return false;
        if (rec.storeTimestamp < beginMs || rec.storeTimestamp > endMs) return false;
        found.push(rec);
        return true;
      });
    }
    for (const [file] of this.indexFiles) if (!files.includes(file)) this.indexFiles.delete(file);
    return found;
  }

  /** Forget cached mappings (after retention deleted files). */
  forget(): void {
    this.queues.clear();
    this.indexFiles.clear();
  }
}
