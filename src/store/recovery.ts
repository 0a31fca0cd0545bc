/**
 * Commit log recovery at open: decide where validation starts, validate records (magic, sizes,
 * physical offsets, body CRC) with the native scanner, and cut the log back to the last valid
 * record. The rules are a decision table (RECOVERY_RULES); test/crash/recovery-table.test.ts
 * walks every row.
 *
 * What a crash can leave: a process crash (SIGKILL) leaves everything written to the mapping in
 * the page cache, possibly with the last record half written; a power loss leaves only flushed
 * data, with zeros or stale bytes after it. Either way valid data is a prefix of the log.
 */
import { closeSync, mkdirSync, openSync, readSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { StoreError } from '../errors.js';
import { native, ScanSlot, ScanStop } from '../native.js';
import type { CheckpointState } from './checkpoint.js';
import type { CommitLog } from './commit-log.js';
import { MappedSegment, segmentFileName } from './mapped-segment.js';
import type { RecoveryReport } from './types.js';

/** Where validation starts, by shutdown kind and checkpoint. */
export type RecoveryRule =
  | 'R1-empty' // no segment files: a new log
  | 'R2-clean' // no abort marker, checkpoint has a clean end inside the log: trust it, validate nothing
  | 'R3-crash-checkpoint' // abort marker, checkpoint flushedOffset inside the log: validate from it
  | 'R4-no-checkpoint' // no usable checkpoint (foreign store, lost or out of range): validate from the first segment
  | 'R5-clean-mark-bad'; // clean end recorded but the log does not end there: validate from flushedOffset or the start

export const RECOVERY_RULES: readonly { rule: RecoveryRule; when: string; action: string }[] = [
  { rule: 'R1-empty', when: 'no commit log segment files', action: 'start an empty log at 0' },
  {
    rule: 'R2-clean',
    when: 'no abort file, checkpoint cleanEndOffset within the log and the log ends there',
    action: 'adopt cleanEndOffset as the end; no validation',
  },
  {
    rule: 'R3-crash-checkpoint',
    when: 'abort file present, checkpoint flushedOffset within the log',
    action: 'validate from flushedOffset; truncate at the first bad record',
  },
  {
    rule: 'R4-no-checkpoint',
    when: 'checkpoint missing, foreign (RocketMQ) or pointing outside the retained log',
    action: 'validate from the first segment; truncate at the first bad record',
  },
  {
    rule: 'R5-clean-mark-bad',
    when: 'no abort file but the recorded clean end is not the end of valid data',
    action: 'validate from flushedOffset (or the first segment); truncate at the first bad record',
  },
];

/** File-level rules, checked before any record. */
export const SEGMENT_RULES: readonly { rule: string; when: string; action: string }[] = [
  {
    rule: 'S0',
    when: 'segments after the first that never got a record (prepared ahead, or created when the process died) end the list',
    action: 'delete them before the other rules: the active segment is the last one holding data',
  },
  {
    rule: 'S1',
    when: 'a segment other than the last has a size other than segmentBytes',
    action: 'CORRUPT_SEGMENT',
  },
  {
    rule: 'S2',
    when: 'the last segment is shorter than segmentBytes',
    action: 'validate it, copy its valid prefix into a full-size segment',
  },
  { rule: 'S3', when: 'segment start offsets leave a gap or overlap', action: 'CORRUPT_SEGMENT' },
  { rule: 'S4', when: 'segments lie wholly after the end of valid data', action: 'delete them' },
];

const STOP_REASON: Record<number, string> = {
  [ScanStop.badMagic]: 'magic',
  [ScanStop.badSize]: 'size',
  [ScanStop.crcMismatch]: 'crc',
  [ScanStop.lengthMismatch]: 'length',
  [ScanStop.offsetMismatch]: 'offset',
};

export interface RecoveryInput {
  abortExists: boolean;
  checkpoint: CheckpointState;
}

export function chooseRule(
  input: RecoveryInput,
  files: readonly { fromOffset: number; size: number }[],
  lastEnd: number,
): { rule: RecoveryRule; from: number } {
  if (files.length === 0) return { rule: 'R1-empty', from: 0 };
  const first = files[0]!.fromOffset;
  const inLog = (o: number | undefined): o is number => o !== undefined && o >= first && o <= lastEnd;
  const cp = input.checkpoint;
  if (!input.abortExists && inLog(cp.cleanEndOffset)) return { rule: 'R2-clean', from: cp.cleanEndOffset };
  if (inLog(cp.flushedOffset)) return { rule: 'R3-crash-checkpoint', from: cp.flushedOffset };
  return { rule: 'R4-no-checkpoint', from: first };
}

/**
 * Map the segment files into `log`, validate, truncate. Returns the report; `log` ends up with
 * its segments' wrote/flushed positions set.
 */
export function recoverCommitLog(
  log: CommitLog,
  input: RecoveryInput,
): RecoveryReport & { rule: RecoveryRule } {
  const started = performance.now();
  log.removeUnfinishedPreparations();
  const files = log.listSegmentFiles();
  const size = log.segmentBytes;
  // S0: a segment prepared ahead of time is on disk after a crash; it must not make a short
  // active segment look like a short middle one (S1).
  while (files.length > 1) {
    const f = files[files.length - 1]!;
    const filePath = path.join(log.dir, segmentFileName(f.fromOffset));
    if (!neverWritten(filePath, f.size)) break;
    rmSync(filePath, { force: true });
    files.pop();
  }
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    const last = i === files.length - 1;
    if (i > 0 && f.fromOffset !== files[i - 1]!.fromOffset + size) {
      throw new StoreError(
        'CORRUPT_SEGMENT',
        `commit log segment ${segmentFileName(f.fromOffset)} does not follow the previous one (segments are ${size} bytes): a segment is missing or TIDEMQ_SEGMENT_BYTES differs from the one the store was written with.`,
      );
    }
    if (f.size > size || (!last && f.size !== size)) {
      throw new StoreError(
        'CORRUPT_SEGMENT',
        `commit log segment ${segmentFileName(f.fromOffset)} is ${f.size} bytes, not ${size}: open the store with the segment size it was written with (TIDEMQ_SEGMENT_BYTES=${f.size}).`,
      );
    }
    if (f.fromOffset % size !== 0) {
      throw new StoreError(
        'CORRUPT_SEGMENT',
        `commit log segment ${segmentFileName(f.fromOffset)} does not start at a multiple of the segment size ${size}.`,
      );
    }
  }
  const lastFile = files[files.length - 1];
  const lastEnd = lastFile ? lastFile.fromOffset + lastFile.size : 0;
  let { rule, from } = chooseRule(input, files, lastEnd);

  const segments = files.map((f) => MappedSegment.open(log.dir, f.fromOffset, f.size === 0 ? 0 : f.size));
  const base = {
    cleanShutdown: !input.abortExists,
    durationMs: 0,
  };
  if (segments.length === 0) {
    return { ...base, rule, fromOffset: 0, endOffset: 0, truncatedBytes: 0, reason: undefined, records: 0 };
  }

  if (rule === 'R2-clean' && !endsCleanlyAt(segments, from)) {
    rule = 'R5-clean-mark-bad';
    const cp = input.checkpoint.flushedOffset;
    from = cp !== undefined && cp >= segments[0]!.fromOffset && cp <= from ? cp : segments[0]!.fromOffset;
  }

  const out = new Float64Array(8);
  let end = from;
  let records = 0;
  let reason: string | undefined;
  let idx = segments.findIndex((s) => from >= s.fromOffset && from < s.fromOffset + s.size);
  if (idx < 0) idx = segments.length - 1; // from == end of the last segment
  if (rule !== 'R2-clean') {
    for (let i = idx; i < segments.length; i++) {
      const seg = segments[i]!;
      const start = i === idx ? from - seg.fromOffset : 0;
      if (start >= seg.size) {
        end = seg.fromOffset + seg.size;
        continue;
      }
      native.scanRecords(seg.mapping, start, seg.size, seg.fromOffset, true, out);
      records += out[ScanSlot.records]!;
      end = seg.fromOffset + out[ScanSlot.endPosition]!;
      const stop = out[ScanSlot.stop]!;
      if (stop === ScanStop.blank) {
        end = seg.fromOffset + seg.size;
        continue;
      }
      if (stop !== ScanStop.end) reason = STOP_REASON[stop] ?? `stop ${stop}`;
      break;
    }
  }

  // Positions: every segment before `end` is full; the one holding `end` is the active one.
  let truncatedBytes = 0;
  const kept: MappedSegment[] = [];
  for (const seg of segments) {
    if (seg.fromOffset + seg.size <= end && end > seg.fromOffset) {
      seg.wrotePosition = seg.sealedPosition = seg.flushedPosition = seg.size;
      seg.full = true;
      kept.push(seg);
    } else if (end >= seg.fromOffset && end < seg.fromOffset + seg.size) {
      const pos = end - seg.fromOffset;
      seg.wrotePosition = seg.sealedPosition = seg.flushedPosition = pos;
      if (reason !== undefined) truncatedBytes += zeroTail(seg, pos);
      kept.push(seg);
    } else {
      // Wholly after the end (S4): a prepared-ahead empty segment, or data after damage.
      truncatedBytes += dataExtent(seg, 0);
      rmSync(seg.filePath, { force: true });
    }
  }
  const activeShort = kept[kept.length - 1];
  if (activeShort && activeShort.size !== size) {
    // S2: the last segment is short (cut by a crash or by hand): move its valid prefix into a full one.
    const sideDir = path.join(log.dir, '.recovering');
    mkdirSync(sideDir, { recursive: true });
    const replacement = MappedSegment.create(sideDir, activeShort.fromOffset, size);
    replacement.buf.set(activeShort.buf.subarray(0, activeShort.wrotePosition));
    replacement.wrotePosition = activeShort.wrotePosition;
    native.flushSync(replacement.mapping, 0, replacement.size);
    rmSync(activeShort.filePath, { force: true });
    renameSync(replacement.filePath, activeShort.filePath);
    rmdirSync(sideDir);
    kept[kept.length - 1] = MappedSegment.open(log.dir, activeShort.fromOffset, size);
    const adopted = kept[kept.length - 1]!;
    adopted.wrotePosition = adopted.sealedPosition = adopted.flushedPosition = activeShort.wrotePosition;
  }
  for (const seg of kept) log.adopt(seg);
  if (kept.length === 0) log.startAt(end - (end % size));
  return {
    ...base,
    rule,
    fromOffset: from,
    endOffset: end,
    truncatedBytes,
    reason,
    records,
    durationMs: performance.now() - started,
  };
}

/** The log written with a clean close ends exactly at `end`: nothing but zeros or a segment boundary follows. */
function endsCleanlyAt(segments: MappedSegment[], end: number): boolean {
  const seg = segments.find((s) => end >= s.fromOffset && end < s.fromOffset + s.size);
  if (!seg) return end === segments[segments.length - 1]!.fromOffset + segments[segments.length - 1]!.size;
  const pos = end - seg.fromOffset;
  if (
    pos + 8 <= seg.size &&
    (seg.view.getInt32(pos, false) !== 0 || seg.view.getInt32(pos + 4, false) !== 0)
  ) {
    return false;
  }
  // The segment after the end must be empty (a prepared one) if it exists.
  const next = segments.find((s) => s.fromOffset === seg.fromOffset + seg.size);
  return !next || next.view.getInt32(0, false) === 0;
}

/** Bytes from `pos` to the last non-zero byte of the segment. */
function dataExtent(seg: MappedSegment, pos: number): number {
  const words = new Int32Array(seg.mapping, 0, Math.floor(seg.size / 4));
  let w = words.length - 1;
  const stopWord = Math.floor(pos / 4);
  while (w >= stopWord && words[w] === 0) w--;
  let end = (w + 1) * 4;
  while (end > pos && seg.buf[end - 1] === 0) end--;
  return Math.max(0, end - pos);
}

/** Zero the damaged tail after `pos` (so stale bytes can never be read as records) and force it. */
function zeroTail(seg: MappedSegment, pos: number): number {
  const extent = dataExtent(seg, pos);
  if (extent > 0) {
    seg.buf.fill(0, pos, pos + extent);
    native.flushSync(seg.mapping, pos, extent);
  }
  return extent;
}

/** The segment holds no record: shorter than a record header, or totalSize and magic 0 at its start. */
function neverWritten(filePath: string, fileBytes: number): boolean {
  if (fileBytes < 8) return true;
  const head = Buffer.alloc(8);
  const fd = openSync(filePath, 'r');
  try {
    readSync(fd, head, 0, 8, 0);
  } finally {
    closeSync(fd);
  }
  return head.readInt32BE(0) === 0 && head.readInt32BE(4) === 0;
}
