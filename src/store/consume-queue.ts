/**
 * A consume queue: the index of one (topic, queueId) into the commit log, as RocketMQ lays it out.
 *
 * ```
 *  consumequeue/<topic>/<queueId>/<20-digit logical byte offset>   files of entriesPerFile × 20 B
 *
 *  entry k lives at logical byte k × 20 (big-endian):
 *  0   8  commitLogOffset   physical offset of the record
 *  8   4  size              record size
 *  12  8  tagsCode          Java String.hashCode of the TAGS property (0 without tags)
 * ```
 * Files are preallocated and zero-filled, so an entry with size ≤ 0 marks the end of valid data.
 * A queue whose first retained file starts part-way has its skipped slots filled with
 * (0, 0x7FFFFFFF, 0), as RocketMQ does. A crash can leave a torn last entry (some bytes zero):
 * recovery ends the queue at the first entry with size ≤ 0 or offset < 0, and truncation drops
 * entries pointing past the recovered commit log end.
 *
 * Re-dispatch is idempotent: an entry whose commitLogOffset + size is not beyond the queue's
 * largest (maxPhysicalEnd) is ignored, so recovery is truncate-and-replay.
 *
 * One writer at a time per queue (the dispatch worker that owns it); readers map the same files.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { Advice, MapFlags, native } from '../native.js';
import { parseSegmentFileName, segmentFileName } from './mapped-segment.js';
import { readInt64, writeInt64 } from './record-codec.js';

export const CQ_ENTRY_BYTES = 20;
/** RocketMQ's default: 300,000 entries (6,000,000 bytes) per file. */
export const CQ_DEFAULT_ENTRIES_PER_FILE = 300_000;
const FILLER_SIZE = 0x7fffffff;

interface CqFile {
  fromOffset: number; // logical byte offset
  mapping: ArrayBuffer;
  view: DataView;
}

export function consumeQueueDir(storeDir: string, topic: string, queueId: number): string {
  return path.join(storeDir, 'consumequeue', topic, String(queueId));
}

export interface CqEntry {
  physicalOffset: number;
  size: number;
  tagsCode: number;
}

export class ConsumeQueue {
  readonly topic: string;
  readonly queueId: number;
  readonly dir: string;
  readonly fileBytes: number;
  private readonly readOnly: boolean;
  private files: CqFile[] = [];
  /** Next logical offset (entry count, including filler). */
  maxOffset = 0;
  /** First logical offset that still has an entry. */
  minOffset = 0;
  /** Largest commitLogOffset + size among the entries (idempotence of re-dispatch). */
  maxPhysicalEnd = 0;
  /** Bytes written but not yet forced, per file start. */
  private dirtyFrom = Number.POSITIVE_INFINITY;
  /** False: maxOffset and maxPhysicalEnd are not looked for (see the constructor). */
  private readonly findsEnd: boolean;
  /** The file the last append wrote (appends go to it until it is full): no lookup per entry. */
  private tail: CqFile | undefined;

  /**
   * `findEnd` false (a reader that learns the end elsewhere, from the dispatcher's shared
   * progress): opening skips the walk over every entry of the last files that finds the valid
   * end — O(entries) on a long queue — and leaves maxOffset and maxPhysicalEnd at 0.
   */
  constructor(
    storeDir: string,
    topic: string,
    queueId: number,
    entriesPerFile: number,
    readOnly = false,
    findEnd = true,
  ) {
    this.topic = topic;
    this.queueId = queueId;
    this.dir = consumeQueueDir(storeDir, topic, queueId);
    this.fileBytes = entriesPerFile * CQ_ENTRY_BYTES;
    this.readOnly = readOnly;
    this.findsEnd = findEnd;
    this.load();
  }

  /** Map existing files and find the valid end. */
  private load(): void {
    if (!existsSync(this.dir)) return;
    const starts = readdirSync(this.dir)
      .map((n) => parseSegmentFileName(n))
      .filter((n): n is number => n !== undefined)
      .sort((a, b) => a - b);
    for (const fromOffset of starts) {
      const file = path.join(this.dir, segmentFileName(fromOffset));
      if (statSync(file).size !== this.fileBytes) continue; // foreign size: not ours to read
      const mapping = native.mapFile(file, this.fileBytes, this.readOnly ? MapFlags.readOnly : 0);
      this.files.push({ fromOffset, mapping, view: new DataView(mapping) });
    }
    this.refresh();
  }

  /** Map files another thread created since this instance loaded (readers). */
  mapNewFiles(): void {
    if (!existsSync(this.dir)) return;
    const known = new Set(this.files.map((f) => f.fromOffset));
    const starts = readdirSync(this.dir)
      .map((n) => parseSegmentFileName(n))
      .filter((n): n is number => n !== undefined && !known.has(n))
      .sort((a, b) => a - b);
    for (const fromOffset of starts) {
      const file = path.join(this.dir, segmentFileName(fromOffset));
      if (statSync(file).size !== this.fileBytes) continue;
      const mapping = native.mapFile(file, this.fileBytes, this.readOnly ? MapFlags.readOnly : 0);
      this.files.push({ fromOffset, mapping, view: new DataView(mapping) });
    }
    this.files.sort((a, b) => a.fromOffset - b.fromOffset);
  }

  /**
   * Re-read the valid end from the files (after another thread appended, or at load): the first
   * entry of the last files with size ≤ 0 or offset < 0 ends the queue.
   */
  refresh(): void {
    if (this.files.length === 0) return;
    const first = this.files[0]!;
    let min = first.fromOffset / CQ_ENTRY_BYTES;
    // skip filler at the head
    while (min < first.fromOffset / CQ_ENTRY_BYTES + this.fileBytes / CQ_ENTRY_BYTES) {
      const pos = (min * CQ_ENTRY_BYTES) % this.fileBytes;
      if (first.view.getInt32(pos + 8, false) !== FILLER_SIZE) break;
      min++;
    }
    this.minOffset = min;
    if (!this.findsEnd) return;
    let end = first.fromOffset;
    for (let i = Math.max(0, this.files.length - 2); i < this.files.length; i++) {
      const f = this.files[i]!;
      let pos = i === 0 ? (min * CQ_ENTRY_BYTES) % this.fileBytes : 0;
      if (f.fromOffset + pos < end) pos = end - f.fromOffset;
      while (pos + CQ_ENTRY_BYTES <= this.fileBytes) {
        const phys = readInt64(f.view, pos);
        const size = f.view.getInt32(pos + 8, false);
        if (phys < 0 || size <= 0) break;
        pos += CQ_ENTRY_BYTES;
      }
      end = f.fromOffset + pos;
      if (pos < this.fileBytes) break;
    }
    this.maxOffset = end / CQ_ENTRY_BYTES;
    if (this.maxOffset > this.minOffset) {
      const last = this.entry(this.maxOffset - 1);
      if (last) this.maxPhysicalEnd = last.physicalOffset + last.size;
    }
    if (this.maxOffset < this.minOffset) this.minOffset = this.maxOffset;
  }

  private fileFor(logicalByte: number): CqFile | undefined {
    const files = this.files;
    if (files.length === 0) return undefined;
    const idx = Math.floor((logicalByte - files[0]!.fromOffset) / this.fileBytes);
    const f = files[idx];
    return f && logicalByte >= f.fromOffset && logicalByte < f.fromOffset + this.fileBytes ? f : undefined;
  }

  /** The entry at logical offset `queueOffset`, or undefined outside [minOffset, maxOffset). */
  entry(queueOffset: number, out?: CqEntry): CqEntry | undefined {
    if (queueOffset < this.minOffset || queueOffset >= this.maxOffset) return undefined;
    const byte = queueOffset * CQ_ENTRY_BYTES;
    const f = this.fileFor(byte);
    if (!f) return undefined;
    const pos = byte - f.fromOffset;
    const e = out ?? { physicalOffset: 0, size: 0, tagsCode: 0 };
    e.physicalOffset = readInt64(f.view, pos);
    e.size = f.view.getInt32(pos + 8, false);
    e.tagsCode = readInt64(f.view, pos + 12);
    return e;
  }

  /** Raw access for hot loops: the file view and position of an entry known to exist. */
  /** The file holding logical byte `byte` (hot loops compute the position themselves). */
  fileAt(byte: number): { fromOffset: number; view: DataView } | undefined {
    return this.fileFor(byte);
  }

  locate(queueOffset: number): { view: DataView; pos: number } | undefined {
    const byte = queueOffset * CQ_ENTRY_BYTES;
    const f = this.fileFor(byte);
    return f ? { view: f.view, pos: byte - f.fromOffset } : undefined;
  }

  private createFile(fromOffset: number): CqFile {
    mkdirSync(this.dir, { recursive: true });
    const file = path.join(this.dir, segmentFileName(fromOffset));
    const mapping = native.mapFile(file, this.fileBytes, MapFlags.create);
    const f = { fromOffset, mapping, view: new DataView(mapping) };
    this.files.push(f);
    return f;
  }

  /**
   * Write the entry for a record. Returns false when it is a duplicate of what the queue already
   * holds (re-dispatch after recovery), true when written.
   */
  append(queueOffset: number, physicalOffset: number, size: number, tagsCode: number): boolean {
    if (physicalOffset + size <= this.maxPhysicalEnd) return false;
    if (queueOffset < this.maxOffset) return false;
    const byte = queueOffset * CQ_ENTRY_BYTES;
    let f = this.tail;
    if (f === undefined || byte < f.fromOffset || byte >= f.fromOffset + this.fileBytes) {
      f = this.appendFile(byte);
      this.tail = f;
      // Appends touch the rest of the file one page at a time, each page for the first time.
      // Readahead there (read_ahead_kb, often MiBs) only zero-fills never-written blocks,
      // in one go: a stall of tens of ms in the dispatch worker at each new file.
      const from = byte - f.fromOffset;
      try {
        native.advise(f.mapping, from, this.fileBytes - from, Advice.random);
      } catch {
        // a hint (it splits the mapping, which vm.max_map_count may refuse): append anyway
      }
    }
    const v = f.view;
    const pos = byte - f.fromOffset;
    writeInt64(v, pos, physicalOffset);
    if ((tagsCode | 0) === tagsCode) {
      // an int32 (a Java hashCode, as the dispatcher writes): writeInt64's bytes, sign-extended
      v.setInt32(pos + 12, tagsCode < 0 ? -1 : 0, false);
      v.setInt32(pos + 16, tagsCode, false);
    } else writeInt64(v, pos + 12, tagsCode);
    v.setInt32(pos + 8, size, false); // size last: a non-zero size marks the entry complete
    this.maxOffset = queueOffset + 1;
    this.maxPhysicalEnd = physicalOffset + size;
    if (byte < this.dirtyFrom) this.dirtyFrom = byte;
    return true;
  }

  /** The file for an appended entry at logical byte `byte`, creating it (and any before it). */
  private appendFile(byte: number): CqFile {
    if (this.files.length === 0) {
      // A queue starting part-way (its earlier records were deleted): fill the head of the file.
      const start = byte - (byte % this.fileBytes);
      const f = this.createFile(start);
      for (let p = 0; p < byte - start; p += CQ_ENTRY_BYTES) {
        f.view.setInt32(p + 8, FILLER_SIZE, false);
      }
      this.minOffset = byte / CQ_ENTRY_BYTES;
      this.maxOffset = this.minOffset;
    }
    let f = this.fileFor(byte);
    while (!f) {
      const last = this.files[this.files.length - 1]!;
      this.createFile(last.fromOffset + this.fileBytes);
      f = this.fileFor(byte);
    }
    return f;
  }

  /** Drop entries whose record ends after `commitLogEnd` (recovery). */
  truncateAfter(commitLogEnd: number): number {
    let dropped = 0;
    while (this.maxOffset > this.minOffset) {
      const e = this.entry(this.maxOffset - 1)!;
      if (e.physicalOffset + e.size <= commitLogEnd) break;
      const loc = this.locate(this.maxOffset - 1)!;
      new Uint8Array(loc.view.buffer, loc.pos, CQ_ENTRY_BYTES).fill(0);
      this.maxOffset--;
      dropped++;
    }
    if (dropped > 0) {
      const last = this.maxOffset > this.minOffset ? this.entry(this.maxOffset - 1) : undefined;
      this.maxPhysicalEnd = last ? last.physicalOffset + last.size : 0;
      this.dirtyFrom = Math.min(this.dirtyFrom, this.maxOffset * CQ_ENTRY_BYTES);
    }
    return dropped;
  }

  /** Force written entries to disk. */
  async flush(): Promise<void> {
    if (this.dirtyFrom === Number.POSITIVE_INFINITY) return;
    const from = this.dirtyFrom;
    this.dirtyFrom = Number.POSITIVE_INFINITY;
    for (const f of this.files) {
      if (f.fromOffset + this.fileBytes <= from) continue;
      const start = Math.max(0, from - f.fromOffset);
      await native.flush(f.mapping, start, this.fileBytes - start);
    }
  }

  /** Delete whole files whose every entry points below `minPhysicalOffset` (retention). */
  deleteBefore(minPhysicalOffset: number): number {
    let deleted = 0;
    while (this.files.length > 1) {
      const f = this.files[0]!;
      const lastPos = this.fileBytes - CQ_ENTRY_BYTES;
      if (readInt64(f.view, lastPos) + f.view.getInt32(lastPos + 8, false) > minPhysicalOffset) break;
      this.files.shift();
      if (this.tail === f) this.tail = undefined;
      rmSync(path.join(this.dir, segmentFileName(f.fromOffset)), { force: true });
      native.markReclaimable(f.mapping);
      deleted++;
    }
    if (deleted > 0) this.minOffset = Math.max(this.minOffset, this.files[0]!.fromOffset / CQ_ENTRY_BYTES);
    // entries inside the first file that point below the commit log are skipped by readers
    while (this.minOffset < this.maxOffset) {
      const e = this.entry(this.minOffset)!;
      if (e.physicalOffset >= minPhysicalOffset) break;
      this.minOffset++;
    }
    return deleted;
  }

  /** Delete every file of this queue (rebuild). */
  destroy(): void {
    this.files = [];
    this.tail = undefined;
    rmSync(this.dir, { recursive: true, force: true });
    this.maxOffset = this.minOffset = this.maxPhysicalEnd = 0;
  }
}

/** Every (topic, queueId) with a consume queue directory. */
export function listConsumeQueues(storeDir: string): { topic: string; queueId: number }[] {
  const root = path.join(storeDir, 'consumequeue');
  if (!existsSync(root)) return [];
  const out: { topic: string; queueId: number }[] = [];
  for (const topic of readdirSync(root)) {
    const tdir = path.join(root, topic);
    if (!statSync(tdir).isDirectory()) continue;
    for (const q of readdirSync(tdir)) {
      if (/^\d+$/.test(q)) out.push({ topic, queueId: Number(q) });
    }
  }
  return out;
}
