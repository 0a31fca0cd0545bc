/**
 * One commit log segment: a preallocated file named by its first physical offset (20 digits),
 * mapped MAP_SHARED. Three views over one mapping: `buf` (Buffer), `view` (DataView, big-endian
 * fields), and the ArrayBuffer itself, which keeps the mapping alive for as long as any view of
 * it is referenced — a deleted segment stays readable by the readers that hold its bodies.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { MapFlags, native } from '../native.js';

export function segmentFileName(fromOffset: number): string {
  return String(fromOffset).padStart(20, '0');
}

/** A segment file being preallocated in the background carries this suffix until complete. */
export const PREPARING_SUFFIX = '.preparing';

export function parseSegmentFileName(name: string): number | undefined {
  if (!/^\d{20}$/.test(name)) return undefined;
  const n = Number(name);
  return Number.isSafeInteger(n) ? n : undefined;
}

export class MappedSegment {
  readonly fromOffset: number;
  readonly filePath: string;
  readonly size: number;
  readonly mapping: ArrayBuffer;
  readonly buf: Buffer;
  readonly view: DataView;
  /** Bytes written into this segment (a position within it). */
  wrotePosition = 0;
  /** Bytes whose records carry their body CRC (sealed); flushed ≤ sealed ≤ wrote. */
  sealedPosition = 0;
  /** Bytes known to be on disk. */
  flushedPosition = 0;
  /** The segment ends with a BLANK marker (or is otherwise full): no more appends. */
  full = false;

  private constructor(fromOffset: number, filePath: string, mapping: ArrayBuffer) {
    this.fromOffset = fromOffset;
    this.filePath = filePath;
    this.mapping = mapping;
    this.size = mapping.byteLength;
    this.buf = Buffer.from(mapping);
    this.view = new DataView(mapping);
    // Written once more here so that V8 treats them as mutable from the start: a field first
    // written after construction (at the first flush, at the first roll) changes from "constant"
    // to mutable then and discards the optimized append path that relied on it, mid-run.
    this.flushedPosition = 0;
    this.full = false;
  }

  /** Create and preallocate a new segment file. Throws the native errno error (ENOSPC…). */
  static create(dir: string, fromOffset: number, size: number): MappedSegment {
    const filePath = path.join(dir, segmentFileName(fromOffset));
    return new MappedSegment(fromOffset, filePath, native.mapFile(filePath, size, MapFlags.create));
  }

  /** Map an existing segment file; size 0 means "whatever size the file has". */
  static open(dir: string, fromOffset: number, size: number, readOnly = false): MappedSegment {
    const filePath = path.join(dir, segmentFileName(fromOffset));
    return new MappedSegment(
      fromOffset,
      filePath,
      native.mapFile(filePath, size, readOnly ? MapFlags.readOnly : 0),
    );
  }

  /**
   * Delete the segment's file. Its mapping is counted as external memory from here on, so that V8
   * schedules the collection that unmaps it once unreferenced and returns the file's disk blocks.
   */
  deleteFile(): void {
    rmSync(this.filePath, { force: true });
    native.markReclaimable(this.mapping);
  }

  get endOffset(): number {
    return this.fromOffset + this.size;
  }

  get wroteOffset(): number {
    return this.fromOffset + this.wrotePosition;
  }

  /** Seal [sealedPosition, wrotePosition) now, on the calling thread (small ranges: see FlushService). */
  sealNow(): void {
    if (this.wrotePosition <= this.sealedPosition) return;
    const sealed = native.sealRecords(this.mapping, this.sealedPosition, this.wrotePosition);
    if (sealed > this.sealedPosition) this.sealedPosition = sealed;
  }

  /** Seal [sealedPosition, wrotePosition) and, with `flush`, force everything sealed to disk, on a native thread. */
  async commit(flush: boolean): Promise<void> {
    const flushFrom = this.flushedPosition;
    const to = this.wrotePosition;
    if (to <= (flush ? flushFrom : this.sealedPosition)) return;
    const sealed = await native.commit(this.mapping, Math.min(this.sealedPosition, to), to, flushFrom, flush);
    if (sealed > this.sealedPosition) this.sealedPosition = sealed;
    if (flush && sealed > this.flushedPosition) this.flushedPosition = sealed;
  }
}
