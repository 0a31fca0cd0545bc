/**
 * Recovery of the derived files (consume queues and the key index) against the recovered commit
 * log, and the choice of where dispatch restarts. They are derived data: anything doubtful is
 * truncated and replayed, which the idempotence rules make safe (consume-queue.ts, index-file.ts).
 *
 * Rules:
 * - D1 every consume queue drops entries whose record ends past the commit log end;
 * - D2 a queue with fewer entries than the commit log holds for it (deleted, truncated or corrupt
 *   files) makes dispatch restart where that queue ends (or at the log start if it is empty);
 * - D3 the newest index file, if it indexes records past the commit log end, is deleted and its
 *   range re-dispatched; a missing index/ directory re-dispatches the whole log;
 * - D4 otherwise dispatch restarts at the checkpoint's dispatched offset (all derived entries
 *   before it were on disk), or at the log start when there is none (a new or foreign store).
 */
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ConsumeQueue, listConsumeQueues } from './consume-queue.js';
import { IndexFile, type IndexGeometry, listIndexFiles } from './index-file.js';

export interface DerivedRecoveryInput {
  storeDir: string;
  commitLogMin: number;
  commitLogEnd: number;
  /** Next queue offset per (topic, queueId) according to the commit log. */
  queueTable: Map<string, number[]>;
  checkpointDispatched: number | undefined;
  cqEntriesPerFile: number;
  indexGeometry: IndexGeometry;
  /** Delete consumequeue/ and index/ first and rebuild everything. */
  rebuild: boolean;
}

export interface DerivedRecoveryResult {
  dispatchFrom: number;
  slots: { topic: string; queueId: number; slot: number; count: number }[];
  truncatedEntries: number;
  rules: string[];
}

export function recoverDerived(input: DerivedRecoveryInput): DerivedRecoveryResult {
  const rules: string[] = [];
  const cqRoot = path.join(input.storeDir, 'consumequeue');
  const indexDir = path.join(input.storeDir, 'index');
  let from = input.checkpointDispatched ?? input.commitLogMin;
  if (input.rebuild) {
    rmSync(cqRoot, { recursive: true, force: true });
    rmSync(indexDir, { recursive: true, force: true });
    rules.push('rebuild');
  }
  if (!existsSync(indexDir)) {
    from = input.commitLogMin;
    rules.push('D3-index-missing');
  } else {
    const files = listIndexFiles(input.storeDir);
    const newest = files[files.length - 1];
    const idx = newest ? IndexFile.open(newest, input.indexGeometry) : undefined;
    if (idx && idx.indexCount > 1 && idx.endPhyOffset >= input.commitLogEnd) {
      from = Math.min(from, idx.beginPhyOffset);
      idx.destroy();
      rules.push('D3-index-past-end');
    }
  }
  let truncated = 0;
  const slots: DerivedRecoveryResult['slots'] = [];
  const seen = new Set<string>();
  for (const { topic, queueId } of listConsumeQueues(input.storeDir)) {
    const cq = new ConsumeQueue(input.storeDir, topic, queueId, input.cqEntriesPerFile);
    const dropped = cq.truncateAfter(input.commitLogEnd);
    if (dropped > 0) {
      truncated += dropped;
      rules.push('D1');
    }
    cq.deleteBefore(input.commitLogMin);
    const expected = input.queueTable.get(topic)?.[queueId] ?? 0;
    if (cq.maxOffset < expected) {
      from = Math.min(from, cq.maxOffset > cq.minOffset ? cq.maxPhysicalEnd : input.commitLogMin);
      rules.push('D2');
    }
    seen.add(`${topic}\u0000${queueId}`);
    slots.push({ topic, queueId, slot: slots.length, count: cq.maxOffset });
  }
  for (const [topic, queues] of input.queueTable) {
    queues.forEach((next, queueId) => {
      if (next > 0 && !seen.has(`${topic}\u0000${queueId}`)) {
        from = input.commitLogMin;
        rules.push('D2-missing');
      }
    });
  }
  if (from < input.commitLogMin) from = input.commitLogMin;
  if (from > input.commitLogEnd) from = input.commitLogEnd;
  if (rules.length === 0) rules.push('D4');
  return { dispatchFrom: from, slots, truncatedEntries: truncated, rules };
}
