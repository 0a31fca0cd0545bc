/**
 * Read-only view of a store directory (tidemq's or Apache RocketMQ's) for inspection and
 * verification: maps every file PROT_READ, takes no lock, writes nothing. Safe on a store that
 * another process has open (it may then see that process's latest, not yet flushed, records).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { native, ScanSlot, ScanStop } from '../native.js';
import { ConsumeQueue, listConsumeQueues } from './consume-queue.js';
import { IndexFile, listIndexFiles } from './index-file.js';
import { MappedSegment, parseSegmentFileName } from './mapped-segment.js';
import { MAGIC_BLANK, OFF_MAGIC, StoredRecord } from './record-codec.js';

export interface SegmentReport {
  name: string;
  fromOffset: number;
  sizeBytes: number;
  /** Valid records found. */
  records: number;
  /** Where valid data ends inside the segment. */
  endPosition: number;
  /** 'blank' (full), 'end' (active), or the damage found: 'crc', 'magic', 'size', 'length', 'offset'. */
  stop: string;
}

const STOP_NAMES: Record<number, string> = {
  [ScanStop.end]: 'end',
  [ScanStop.blank]: 'blank',
  [ScanStop.badMagic]: 'magic',
  [ScanStop.badSize]: 'size',
  [ScanStop.crcMismatch]: 'crc',
  [ScanStop.lengthMismatch]: 'length',
  [ScanStop.offsetMismatch]: 'offset',
};

export class StoreReader {
  readonly dir: string;
  readonly segments: MappedSegment[] = [];
  readonly segmentBytes: number;
  private readonly host = { ip: 0x7f000001, port: 10911 };

  constructor(dir: string) {
    this.dir = path.resolve(dir);
    const logDir = path.join(this.dir, 'commitlog');
    if (!existsSync(logDir)) throw new Error(`${this.dir} has no commitlog/ directory: not a store.`);
    const starts = readdirSync(logDir)
      .map((n) => parseSegmentFileName(n))
      .filter((n): n is number => n !== undefined)
      .sort((a, b) => a - b);
    for (const from of starts) {
      const size = statSync(path.join(logDir, String(from).padStart(20, '0'))).size;
      if (size === 0) continue;
      this.segments.push(MappedSegment.open(logDir, from, 0, true));
    }
    this.segmentBytes = this.segments[0]?.size ?? 0;
  }

  /** Validate every segment (CRC included); sets each segment's wrotePosition to its valid end. */
  validate(): SegmentReport[] {
    const out = new Float64Array(8);
    const reports: SegmentReport[] = [];
    for (const seg of this.segments) {
      native.scanRecords(seg.mapping, 0, seg.size, seg.fromOffset, true, out);
      const stop = out[ScanSlot.stop]!;
      seg.wrotePosition = stop === ScanStop.blank ? seg.size : out[ScanSlot.endPosition]!;
      seg.full = stop === ScanStop.blank;
      reports.push({
        name: path.basename(seg.filePath),
        fromOffset: seg.fromOffset,
        sizeBytes: seg.size,
        records: out[ScanSlot.records]!,
        endPosition: out[ScanSlot.endPosition]!,
        stop: STOP_NAMES[stop] ?? String(stop),
      });
    }
    return reports;
  }

  get(offset: number): StoredRecord | undefined {
    const seg = this.segments.find((s) => offset >= s.fromOffset && offset < s.fromOffset + s.size);
    if (!seg) return undefined;
    const pos = offset - seg.fromOffset;
    if (pos + 8 > seg.wrotePosition) return undefined;
    if (seg.view.getInt32(pos + OFF_MAGIC, false) === MAGIC_BLANK) return undefined;
    const size = seg.view.getInt32(pos, false);
    if (size < 91 || pos + size > seg.wrotePosition) return undefined;
    return new StoredRecord(seg.mapping, seg.view, pos, offset, this.host);
  }

  /** Records in commit-log order (validate() first). */
  *scan(): Generator<StoredRecord> {
    for (const seg of this.segments) {
      let pos = 0;
      while (pos + 8 <= seg.wrotePosition) {
        if (seg.view.getInt32(pos + OFF_MAGIC, false) === MAGIC_BLANK) break;
        const rec = this.get(seg.fromOffset + pos);
        if (!rec) break;
        yield rec;
        pos += rec.size;
      }
    }
  }

  consumeQueues(): ConsumeQueue[] {
    const out: ConsumeQueue[] = [];
    for (const { topic, queueId } of listConsumeQueues(this.dir)) {
      const qdir = path.join(this.dir, 'consumequeue', topic, String(queueId));
      const first = readdirSync(qdir).find((n) => parseSegmentFileName(n) !== undefined);
      const bytes = first ? statSync(path.join(qdir, first)).size : 6_000_000;
      out.push(new ConsumeQueue(this.dir, topic, queueId, Math.floor(bytes / 20), true));
    }
    return out;
  }

  indexFiles(): IndexFile[] {
    const files: IndexFile[] = [];
    for (const f of listIndexFiles(this.dir)) {
      // tidemq's default geometry or RocketMQ's, whichever the size says
      const idx = IndexFile.open(f, { slots: 1_000_000, entries: 4_000_000 }, true);
      if (idx) files.push(idx);
    }
    return files;
  }

  /** Key lookup without the store running: newest index file first, real key compared. */
  queryByKey(topic: string, key: string, max = 32): StoredRecord[] {
    const found: StoredRecord[] = [];
    const seen = new Set<number>();
    for (const idx of this.indexFiles().reverse()) {
      const offsets: number[] = [];
      idx.lookup(`${topic}#${key}`, max * 4, 0, Number.MAX_SAFE_INTEGER, offsets);
      for (const phys of offsets) {
        if (seen.has(phys)) continue;
        seen.add(phys);
        const rec = this.get(phys);
        if (rec && rec.topic === topic && rec.keys.includes(key)) found.push(rec);
        if (found.length >= max) return found;
      }
    }
    return found;
  }
}
