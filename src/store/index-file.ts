/**
 * The key index, in RocketMQ's IndexFile layout (big-endian):
 *
 * ```
 *  index/<yyyyMMddHHmmssSSS>
 *  header (40 B)
 *    0   8  beginTimestamp   store time of the first entry
 *    8   8  endTimestamp     store time of the last entry
 *    16  8  beginPhyOffset   commit log offset of the first entry
 *    24  8  endPhyOffset     commit log offset of the last entry
 *    32  4  hashSlotCount    slots in use
 *    36  4  indexCount       next entry number (entries are numbered from 1; 0 means none)
 *  slots   hashSlots × 4 B   newest entry number for keys hashing to the slot
 *  entries maxEntries × 20 B
 *    0   4  keyHash          |String.hashCode(key)|
 *    4   8  phyOffset
 *    12  4  timeDiff         seconds since beginTimestamp
 *    16  4  prevIndex        previous entry number in the slot's chain (0 = end)
 * ```
 * Keys are `topic#key` for each KEYS value and `topic#uniqKey`. Collisions are not resolved here:
 * the caller compares the real key in the record. A crash can leave an entry written but not
 * linked (harmless) or the header behind the entries; entries are written before the slot and
 * the header, and re-dispatch skips records below endPhyOffset, so replay is idempotent.
 *
 * RocketMQ's default file is 5 M slots and 20 M entries (420,000,040 B). tidemq defaults to
 * 1 M slots and 4 M entries (84,000,040 B): every index file is preallocated, and a fresh store
 * should not claim 400 MB of disk. Files of RocketMQ's default size are read with its geometry.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { Advice, MapFlags, native } from '../native.js';
import { javaHashCode, readInt64, writeInt64 } from './record-codec.js';

export const INDEX_HEADER_BYTES = 40;
export const INDEX_ENTRY_BYTES = 20;
export const INDEX_DEFAULT_SLOTS = 1_000_000;
export const INDEX_DEFAULT_ENTRIES = 4_000_000;
const ROCKETMQ_SLOTS = 5_000_000;
const ROCKETMQ_ENTRIES = 20_000_000;

export interface IndexGeometry {
  slots: number;
  entries: number;
}

export function indexFileBytes(g: IndexGeometry): number {
  return INDEX_HEADER_BYTES + g.slots * 4 + g.entries * INDEX_ENTRY_BYTES;
}

/** |hashCode| as RocketMQ computes it (Integer.MIN_VALUE maps to 0). */
export function indexKeyHash(key: string): number {
  return indexHashOf(javaHashCode(key));
}

/** RocketMQ's slot hash of a key from its Java hashCode (abs, with MIN_VALUE as 0). */
function indexHashOf(javaHash: number): number {
  // Math.abs in int32 terms (-x of an int32 other than MIN_VALUE is one): integer % and stores
  return javaHash === -2147483648 ? 0 : javaHash < 0 ? -javaHash | 0 : javaHash;
}

/** putHash's one-key arguments for putHashes. */
const KEY_HASH = new Int32Array(1);
const KEY_PHYS = new Float64Array(1);
const KEY_TIME = new Float64Array(1);

function timestampName(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}${p(d.getMilliseconds(), 3)}`;
}

export class IndexFile {
  readonly filePath: string;
  readonly geometry: IndexGeometry;
  readonly mapping: ArrayBuffer;
  private readonly view: DataView;

  private constructor(filePath: string, mapping: ArrayBuffer, geometry: IndexGeometry, writable: boolean) {
    this.filePath = filePath;
    this.mapping = mapping;
    this.view = new DataView(mapping);
    this.geometry = geometry;
    // A writer touches slots at random and entries one page at a time. Without this, each first
    // touch of a page past the file's written data reads ahead (read_ahead_kb, often MiBs) of
    // never-written blocks, and zero-filling them stalls the dispatch worker for tens of ms.
    if (writable) native.advise(mapping, 0, mapping.byteLength, Advice.random);
  }

  static create(dir: string, nowMs: number, geometry: IndexGeometry): IndexFile {
    mkdirSync(dir, { recursive: true });
    let name = timestampName(nowMs);
    while (existsSync(path.join(dir, name))) name = timestampName(++nowMs);
    const file = path.join(dir, name);
    const f = new IndexFile(
      file,
      native.mapFile(file, indexFileBytes(geometry), MapFlags.create),
      geometry,
      true,
    );
    f.view.setInt32(36, 1, false); // entries are numbered from 1
    return f;
  }

  static open(filePath: string, geometry: IndexGeometry, readOnly = false): IndexFile | undefined {
    const size = statSync(filePath).size;
    let g = geometry;
    if (size !== indexFileBytes(g)) {
      g = { slots: ROCKETMQ_SLOTS, entries: ROCKETMQ_ENTRIES };
      if (size !== indexFileBytes(g)) return undefined;
    }
    return new IndexFile(
      filePath,
      native.mapFile(filePath, size, readOnly ? MapFlags.readOnly : 0),
      g,
      !readOnly,
    );
  }

  get beginTimestamp(): number {
    return readInt64(this.view, 0);
  }
  get endTimestamp(): number {
    return readInt64(this.view, 8);
  }
  get beginPhyOffset(): number {
    return readInt64(this.view, 16);
  }
  get endPhyOffset(): number {
    return readInt64(this.view, 24);
  }
  get indexCount(): number {
    return Math.max(1, this.view.getInt32(36, false));
  }
  get full(): boolean {
    return this.indexCount >= this.geometry.entries;
  }

  /** Add one key. Returns false when the file is full. */
  put(key: string, phyOffset: number, storeTimestamp: number): boolean {
    return this.putHash(javaHashCode(key), phyOffset, storeTimestamp);
  }

  /** Add one key given as its Java hashCode (the dispatcher hashes keys in place). */
  putHash(javaHash: number, phyOffset: number, storeTimestamp: number): boolean {
    KEY_HASH[0] = javaHash;
    KEY_PHYS[0] = phyOffset;
    KEY_TIME[0] = storeTimestamp;
    return this.putHashes(KEY_HASH, KEY_PHYS, KEY_TIME, 0, 1) === 1;
  }

  /**
   * Add keys from..to-1 of `javaHashes` (Java hashCodes) with their records' offsets and store
   * times, in order, each exactly as putHash adds it. Returns how many were added: fewer when
   * the file fills up. One call per batch: offsets and times past 2^30 passed one by one would
   * each be a heap number.
   */
  putHashes(
    javaHashes: Int32Array,
    phyOffsets: Float64Array,
    storeTimestamps: Float64Array,
    from: number,
    to: number,
  ): number {
    const v = this.view;
    const slots = this.geometry.slots;
    const entries = this.geometry.entries;
    const entriesBase = INDEX_HEADER_BYTES + slots * 4;
    let i = from;
    for (; i < to; i++) {
      const count = this.indexCount;
      if (count >= entries) break;
      const phyOffset = phyOffsets[i]!;
      const storeTimestamp = storeTimestamps[i]!;
      const keyHash = indexHashOf(javaHashes[i]!);
      const slotPos = INDEX_HEADER_BYTES + (keyHash % slots) * 4;
      let prev = v.getInt32(slotPos, false);
      if (prev <= 0 || prev > count) prev = 0;
      let begin = this.beginTimestamp;
      if (count <= 1) {
        begin = storeTimestamp;
        writeInt64(v, 0, storeTimestamp);
        writeInt64(v, 16, phyOffset);
      }
      let timeDiff = begin > 0 ? Math.floor((storeTimestamp - begin) / 1000) : 0;
      if (timeDiff < 0) timeDiff = 0;
      if (timeDiff > 0x7fffffff) timeDiff = 0x7fffffff;
      const entryPos = entriesBase + count * INDEX_ENTRY_BYTES;
      v.setInt32(entryPos, keyHash, false);
      writeInt64(v, entryPos + 4, phyOffset);
      v.setInt32(entryPos + 12, timeDiff, false);
      v.setInt32(entryPos + 16, prev, false);
      v.setInt32(slotPos, count, false);
      if (prev === 0) v.setInt32(32, v.getInt32(32, false) + 1, false);
      v.setInt32(36, count + 1, false);
      writeInt64(v, 8, storeTimestamp);
      writeInt64(v, 24, phyOffset);
    }
    return i - from;
  }

  /**
   * Physical offsets of entries for `key` within [beginMs, endMs], newest first. The index holds
   * hashes and whole seconds only, so a candidate may be another key or slightly out of range:
   * `accept` (when given) checks the real record, and only accepted candidates count toward
   * maxResults.
   */
  lookup(
    key: string,
    maxResults: number,
    beginMs: number,
    endMs: number,
    out: number[],
    accept?: (phyOffset: number) => boolean,
  ): void {
    const v = this.view;
    const keyHash = indexKeyHash(key);
    const count = this.indexCount;
    const begin = this.beginTimestamp;
    let cur = v.getInt32(INDEX_HEADER_BYTES + (keyHash % this.geometry.slots) * 4, false);
    let guard = 0;
    const entriesBase = INDEX_HEADER_BYTES + this.geometry.slots * 4;
    while (cur > 0 && cur < count && out.length < maxResults && guard++ < count) {
      const pos = entriesBase + cur * INDEX_ENTRY_BYTES;
      const hash = v.getInt32(pos, false);
      const phy = readInt64(v, pos + 4);
      const time = begin + v.getInt32(pos + 12, false) * 1000;
      const prev = v.getInt32(pos + 16, false);
      if (time < beginMs - 999) break; // entries are newest first along the chain
      if (hash === keyHash && time <= endMs && (accept === undefined || accept(phy))) out.push(phy);
      if (prev >= cur) break;
      cur = prev;
    }
  }

  flush(): Promise<void> {
    return native.flush(this.mapping, 0, this.mapping.byteLength);
  }

  destroy(): void {
    rmSync(this.filePath, { force: true });
    native.markReclaimable(this.mapping);
  }
}

/** The index files of a store, oldest first. */
export function listIndexFiles(storeDir: string): string[] {
  const dir = path.join(storeDir, 'index');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => /^\d{17}$/.test(n))
    .sort()
    .map((n) => path.join(dir, n));
}
