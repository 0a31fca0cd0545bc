/**
 * The one typed surface of the C++ addon (native/). Everything native goes through here.
 *
 * Conventions (STYLE.md §3): hot calls take integers and reusable buffers; offsets are plain
 * numbers (< 2^53); system-call failures throw an Error whose `code` is the errno name
 * (`ENOSPC`, `ENOENT`, `EWOULDBLOCK`, `EIO`…) and whose `errno` is the number. The TS layers map
 * those to StoreError codes.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { markAsUntransferable } from 'node:worker_threads';

/** madvise(2) advice values accepted by {@link NativeAddon.advise}. */
export const Advice = {
  normal: 0,
  sequential: 1,
  willNeed: 2,
  dontNeed: 3,
  random: 4,
} as const;
export type AdviceValue = (typeof Advice)[keyof typeof Advice];

/** mapFile flags. */
export const MapFlags = {
  /** Create the file (O_CREAT|O_EXCL) and preallocate sizeBytes with posix_fallocate. */
  create: 1,
  /** Map PROT_READ only (inspect/verify of a foreign store). */
  readOnly: 2,
} as const;

/** Result slots written by {@link NativeAddon.scanRecords} into a caller-owned Float64Array(8). */
export const ScanSlot = {
  /** Position within the mapping where valid data ends (first byte not part of a valid record). */
  endPosition: 0,
  /** Number of valid records (BLANK marker not counted). */
  records: 1,
  /** storeTimestamp (ms) of the last valid record, 0 if none. */
  lastStoreTimestamp: 2,
  /** Why the scan stopped: a {@link ScanStop} value. */
  stop: 3,
  /** storeTimestamp of the first valid record, 0 if none. */
  firstStoreTimestamp: 4,
} as const;

/** Why a record scan stopped. */
export const ScanStop = {
  /** Reached `end`, or a zero totalSize (never-written space). */
  end: 0,
  /** A BLANK end-of-segment marker at endPosition (the segment is full; continue in the next one). */
  blank: 1,
  badMagic: 2,
  /** totalSize smaller than the fixed header or larger than what is left before `end`. */
  badSize: 3,
  crcMismatch: 4,
  /** Lengths inside the record do not add up to totalSize (torn write). */
  lengthMismatch: 5,
  /** The record's physicalOffset field differs from segmentFromOffset + position. */
  offsetMismatch: 6,
} as const;

export interface ProbeResult {
  /** operations completed */
  ops: number;
  /** fdatasync calls made (group commit probe) */
  syncs: number;
  /** wall time in nanoseconds */
  elapsedNs: number;
}

export interface NativeAddon {
  /** CRC-32 (IEEE) of buf[offset, offset+length), unmasked, as an unsigned 32-bit number. */
  crc32(buf: Uint8Array, offset: number, length: number): number;

  /**
   * Map a file MAP_SHARED. With MapFlags.create the file must not exist; it is created with
   * mode 0644 and preallocated to sizeBytes with posix_fallocate (so later writes into the
   * mapping cannot hit ENOSPC); on failure the partial file is unlinked and the error thrown.
   * Without create, sizeBytes 0 means "the file's current size"; otherwise it must equal it.
   * The fd is closed before returning. The returned ArrayBuffer is external over the whole
   * mapping; munmap happens only in its finalizer (when no JS object references it any more).
   */
  mapFile(filePath: string, sizeBytes: number, flags: number): ArrayBuffer;
  /**
   * Create and posix_fallocate a file on a libuv worker thread, without mapping it: under
   * tempPath first (O_EXCL; unlinked on failure), then renamed to finalPath unless a file of that
   * name exists (then the temp file is unlinked). Resolves true if the file is now at finalPath,
   * complete; false if finalPath was taken. Rejects with an errno error.
   */
  allocateFile(tempPath: string, finalPath: string, sizeBytes: number): Promise<boolean>;

  /**
   * msync(MS_SYNC) of [offset, offset+length) on a libuv worker thread, after unmapping its whole
   * pages (MADV_DONTNEED: the page cache keeps them; a later access faults them back in). Rejects
   * with an errno error.
   */
  flush(mapping: ArrayBuffer, offset: number, length: number): Promise<void>;
  /** Same, blocking the calling thread. */
  flushSync(mapping: ArrayBuffer, offset: number, length: number): void;

  /** madvise(2) over [offset, offset+length). */
  advise(mapping: ArrayBuffer, offset: number, length: number, advice: AdviceValue): void;
  /**
   * Bytes of [offset, offset+length) (start aligned down to the page size) in memory, by
   * mincore(2): for a file mapping, the file's pages in the page cache, including those that
   * readahead brought in and no one touched.
   */
  residentBytes(mapping: ArrayBuffer, offset: number, length: number): number;

  /**
   * Name the calling thread (Linux: what `top -H`, `ps -L` and perf show; cut to 15 bytes).
   * False where the system has no thread names or refused.
   */
  setThreadName(name: string): boolean;

  /**
   * Fault every page of [offset, offset+length) in for writing on a worker thread, so later
   * appends do not take first-touch page faults. Never changes a byte: safe behind the writer.
   */
  prefault(mapping: ArrayBuffer, offset: number, length: number): Promise<void>;

  /**
   * A writer slot of the addon's prefault thread: [0] the writer's physical write offset, which
   * the writer stores as it appends; [1] set non-zero to stop every follow of this writer.
   */
  prefaultWriter(): Float64Array;

  /**
   * Have the prefault thread follow the writer of `cells` over a writable mapping: keep
   * [wrote, wrote + leadBytes) of it faulted in, stepBytes at a time, where wrote = cells[0] −
   * segmentFromOffset (negative while the writer is still in an earlier segment). The follow ends
   * when the mapping is faulted in to its end, cells[1] is set, or it had nothing to do for idleMs;
   * calling again keeps it going. Never changes a byte, and needs no turn of the event loop to keep
   * up (a synchronous append loop is followed). Unmapping (finalizer, releaseMapping) drops it.
   */
  prefaultFollow(
    mapping: ArrayBuffer,
    cells: Float64Array,
    segmentFromOffset: number,
    leadBytes: number,
    stepBytes: number,
    idleMs: number,
  ): void;

  /** How many mappings the prefault thread is following (tests). */
  prefaultJobs(): number;

  /**
   * Scan RocketMQ commit log records in mapping[start, end). segmentFromOffset is the
   * segment's first physical offset (its file name). With checkCrc, verifies each body CRC.
   * Writes results into out (see ScanSlot) and returns endPosition.
   */
  scanRecords(
    mapping: ArrayBuffer,
    start: number,
    end: number,
    segmentFromOffset: number,
    checkCrc: boolean,
    out: Float64Array,
  ): number;

  /** Open (creating if needed) and flock(LOCK_EX|LOCK_NB) a lock file. Returns the fd; throws EWOULDBLOCK if held. */
  lockFile(filePath: string): number;
  /** Release and close a lock fd from lockFile. */
  unlockFile(fd: number): void;

  /**
   * Seal records in mapping[sealStart, end): compute each body CRC (masked to 31 bits) and store
   * it in the record. Returns the position after the last sealed record (`end` when a BLANK
   * marker ends the range exactly).
   */
  sealRecords(mapping: ArrayBuffer, sealStart: number, end: number): number;

  /**
   * On a libuv thread: seal [sealStart, end) as sealRecords does, then, with `flush`, msync
   * [flushStart, sealedEnd). Resolves with sealedEnd. An injected flush failure applies when
   * `flush` is true.
   */
  commit(
    mapping: ArrayBuffer,
    sealStart: number,
    end: number,
    flushStart: number,
    flush: boolean,
  ): Promise<number>;

  /** Test hook: the next `count` flush/flushSync calls fail with `errno` without touching the disk. */
  injectFlushFailure(errno: number, count: number): void;

  /**
   * Detach a mapping's ArrayBuffer and unmap it now instead of after a garbage collection; every
   * view of it becomes zero-length. Only for mappings never handed to users. Throws while a
   * flush, seal or prefault task is running on it.
   */
  releaseMapping(mapping: ArrayBuffer): void;

  /**
   * The mapping's file was deleted: count its length as external memory until it is unmapped, so
   * that V8 schedules the garbage collection that unmaps it and returns the file's disk blocks.
   * Returns the bytes newly counted: its length, or 0 when it was counted already or is released.
   */
  markReclaimable(mapping: ArrayBuffer): number;

  /** Counters for this addon instance: mappings created and mappings unmapped by finalizers. */
  mappingCounters(): { mapped: number; unmapped: number };

  /** Ceiling probe: copy `recordBytes` records `count` times into the mapping from offset 0 (memcpy). */
  probeMemcpy(mapping: ArrayBuffer, recordBytes: number, count: number): ProbeResult;

  /**
   * Ceiling probe: `concurrency` pthreads append `recordBytes` records with write(2) to a fresh
   * file at filePath and wait for group-committed fdatasync (one syncing thread covers every
   * write done when its sync started), for durationMs. Runs off the JS thread.
   */
  probeGroupCommit(
    filePath: string,
    concurrency: number,
    recordBytes: number,
    durationMs: number,
  ): Promise<ProbeResult>;
}

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));

function load(): NativeAddon {
  // dist/src/native.js -> ../../build/Release; src/native.ts (tests via loaders) -> ../build/Release
  const candidates = [
    path.join(here, '..', '..', 'build', 'Release', 'tidemq.node'),
    path.join(here, '..', 'build', 'Release', 'tidemq.node'),
  ];
  let lastError: unknown;
  for (const candidate of candidates) {
    try {
      return require(candidate) as NativeAddon;
    } catch (err) {
      lastError = err;
    }
  }
  throw new Error(
    `tidemq: the native addon is not built (${String(lastError)}). Run \`npm install\` (or \`npx node-gyp rebuild\`) in the tidemq package.`,
  );
}

/**
 * The addon, with the buffers of mapFile and prefaultWriter marked untransferable: a transfer list
 * then copies them (Node 20) or refuses them (Node 21+), as Node does for its own external
 * buffers, instead of trying to move native memory to another thread, which their detach key
 * refuses anyway (only releaseMapping may detach a mapping).
 */
function withUntransferableMappings(addon: NativeAddon): NativeAddon {
  const api = Object.create(addon) as NativeAddon;
  const mapFile = addon.mapFile.bind(addon);
  Object.defineProperty(api, 'mapFile', {
    value: (filePath: string, sizeBytes: number, flags: number): ArrayBuffer => {
      const mapping = mapFile(filePath, sizeBytes, flags);
      markAsUntransferable(mapping);
      return mapping;
    },
  });
  const prefaultWriter = addon.prefaultWriter.bind(addon);
  Object.defineProperty(api, 'prefaultWriter', {
    value: (): Float64Array => {
      const cells = prefaultWriter();
      markAsUntransferable(cells.buffer);
      return cells;
    },
  });
  return api;
}

export const native: NativeAddon = withUntransferableMappings(load());
