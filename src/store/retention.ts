/**
 * Retention: which commit log segments to delete, and whether the disk is too full to write.
 *
 * RocketMQ's ladder, on the usage of the file system holding the store:
 * - segments older than fileReservedHours (by file mtime) are expired; the periodic cleaner deletes
 *   them in a `deleteWhen` hour (local time, default 04), or at any hour once usage is above
 *   diskMaxUsedRatio; a run asked for by the user (MessageStore.runRetention, RocketMQ's manual
 *   delete) deletes them at once;
 * - above diskCleanForciblyRatio the oldest segments go even if not expired;
 * - above diskWarningRatio writes are refused with DISK_FULL until usage falls again.
 * The active segment is never deleted, deletion stops at the first segment that must stay (no
 * holes), and at most 10 segments go per run. A deleted segment's mapping stays valid for the
 * readers that still hold views of it (the finalizer unmaps it later).
 */
import { statfsSync, statSync } from 'node:fs';
import type { StoreConfig } from '../config.js';
import type { CommitLog } from './commit-log.js';

const MAX_DELETES_PER_RUN = 10;

export interface DiskUsage {
  usedRatio: number;
  totalBytes: number;
  availableBytes: number;
}

export function diskUsage(dir: string): DiskUsage {
  const s = statfsSync(dir);
  const total = s.blocks * s.bsize;
  const available = s.bavail * s.bsize;
  const used = total - s.bfree * s.bsize;
  // Usage as a user sees it (df): used / (used + available to unprivileged users).
  const denom = used + available;
  return { usedRatio: denom > 0 ? used / denom : 0, totalBytes: total, availableBytes: available };
}

export interface RetentionResult {
  deletedSegments: number;
  usedRatio: number;
  diskFull: boolean;
}

/** Whether the periodic cleaner may delete expired segments at `nowMs` (a deleteWhen hour). */
function isDeleteHour(config: StoreConfig, nowMs: number): boolean {
  return config.deleteWhen === undefined || config.deleteWhen.includes(new Date(nowMs).getHours());
}

/**
 * One retention run. `scheduled`: the periodic cleaner's run, which deletes expired segments only
 * in a deleteWhen hour or above diskMaxUsedRatio; otherwise (the user asked) expired ones go now.
 */
export function runRetention(
  log: CommitLog,
  config: StoreConfig,
  nowMs = Date.now(),
  scheduled = false,
): RetentionResult {
  let usage = diskUsage(log.dir);
  const reservedMs = config.fileReservedHours * 3_600_000;
  const forcibly = usage.usedRatio > config.diskCleanForciblyRatio;
  const expiredGo = !scheduled || usage.usedRatio > config.diskMaxUsedRatio || isDeleteHour(config, nowMs);
  let deleted = 0;
  // nothing can go: not even the oldest segment's age is looked up
  while ((forcibly || expiredGo) && deleted < MAX_DELETES_PER_RUN && log.segments.length > 1) {
    const oldest = log.segments[0]!;
    let expired: boolean;
    try {
      expired = statSync(oldest.filePath).mtimeMs + reservedMs <= nowMs;
    } catch {
      expired = true; // the file is already gone
    }
    if (!forcibly && !(expired && expiredGo)) break;
    log.dropOldest(1);
    oldest.deleteFile();
    deleted++;
  }
  if (deleted > 0) usage = diskUsage(log.dir);
  return {
    deletedSegments: deleted,
    usedRatio: usage.usedRatio,
    diskFull: usage.usedRatio > config.diskWarningRatio,
  };
}
