/**
 * Peer: plain Node fs — what a hand-written append-only log does. Each call appends a batch of
 * bodies with one writevSync (no copy into a staging buffer), then optionally fdatasync.
 */
import { closeSync, fdatasyncSync, fstatSync, openSync, writevSync } from 'node:fs';
import path from 'node:path';
import { clockOverheadNs, loopTiming, runSyncLoop } from '../measure.js';
import { bool, fromLoop, num, syncMethod } from '../outcome.js';
import type { ScenarioOutcome, ScenarioSpec } from '../spec.js';
import { makeBody } from '../store-api.js';

export async function fsWrite(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const batch = num(spec, 'batch');
  const sync = bool(spec, 'fdatasync');
  const fd = openSync(path.join(dir, 'peer.log'), 'a');
  const body = makeBody(bodyBytes);
  const iov = Array.from({ length: batch }, () => body);
  let syncs = 0;
  let written = 0;
  const r = runSyncLoop({
    ...loopTiming(spec),
    maxCalls: Math.max(1, Math.floor(spec.maxBytes / (bodyBytes * batch))),
    latencyUnit: sync ? `writev of ${batch} + fdatasync` : `writev of ${batch}`,
    call: () => {
      written += writevSync(fd, iov);
      if (sync) {
        fdatasyncSync(fd);
        syncs++;
      }
      return batch;
    },
  });
  const size = fstatSync(fd).size;
  closeSync(fd);
  return fromLoop(
    r,
    bodyBytes,
    {
      passed: size === written && written === r.totalOps * bodyBytes && (!sync || syncs === r.totalCalls),
      description: sync
        ? 'file size equals bytes written and one fdatasync ran per batch'
        : 'file size equals bytes written (no fdatasync)',
      fileBytes: size,
      fdatasyncs: syncs,
    },
    syncMethod(sync ? `one writev of ${batch} + fdatasync` : `one writev of ${batch}`),
    { clockOverheadNs: clockOverheadNs() },
  );
}
