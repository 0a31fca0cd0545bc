/**
 * The machine's limit for the broker end-to-end scenario: the same pipeline shape with almost no
 * work per message, timed by the same method (paced.ts).
 *
 * - The main thread writes records of tidemq's size for the body (header, topic, UNIQ_KEY), stamps
 *   each with its due time and sequence number, and publishes the count (Atomics.notify). Param
 *   `pages`: 'warm' — into a ring-shaped file mapping already in memory (no page-cache growth);
 *   'fresh' — into new 64 MiB files, as a store that keeps its messages grows, with the addon's
 *   prefault thread following the writer as tidemq's commit log does, kept until the end as a
 *   store keeps its messages (deleting them during the run would stall the event loop — 7–15 ms
 *   an unlink of 64 MiB — and hand their memory back for reuse): up to ~3 GB of files in a full run.
 * - A worker thread (broker-pipeline-worker.ts), polling every millisecond as the dispatch worker
 *   does while busy, walks the new records and writes a 20-byte entry for each into a second
 *   mapping, then publishes its count and wakes the main thread.
 * - The main thread's consumer (Atomics.waitAsync) takes each new entry, makes a Buffer view of
 *   the record's body and records the latency from its due time.
 *
 * No validation, encoding, CRC, flushing, consumer state, receipts or acks: what is left is the
 * hand-over between two threads and one event loop on this machine. Phases as the scenario's:
 * flat out (at most 64 batches in flight) for the peak, then half of the peak and the lighter
 * loads, each message timed from when it was due; and, when the run measured the tidemq scenario
 * named by `atRateOf` first, that scenario's half-peak rate (extra: latencyP99MsAtTidemqRate), so
 * both are compared at the same load too.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { MapFlags, native } from '../../src/native.js';
import { PREFAULT_CHUNK_BYTES, PREFAULT_IDLE_MS, PREFAULT_LEAD_BYTES } from '../../src/store/commit-log.js';
import { waitAsync } from '../../src/store/dispatch-worker.js';
import type { LatencyRecorder } from '../histogram.js';
import { nowNs } from '../measure.js';
import { num } from '../outcome.js';
import { lighterLoads, type PacedPipeline, phaseMs, roundMs, tick, timedAt } from '../scenarios/paced.js';
import type { ScenarioOutcome, ScenarioSpec } from '../spec.js';

/** Int32 cells of the control block. */
export const CTL_WRITTEN_SEQ = 0;
export const CTL_DISPATCHED_SEQ = 1;
export const CTL_STOP = 2;
/** Int32 cells of the counts block (Atomics.store after the data, Atomics.load before reading it). */
export const WRITTEN = 0;
export const DISPATCHED = 1;
export const ENTRY_BYTES = 20;

export interface PipelineShared {
  /** 'fresh': records live in files `${logPath}.<n>` of segmentRecords each; 'warm': one ring. */
  pages: 'warm' | 'fresh';
  logPath: string;
  entriesPath: string;
  recordBytes: number;
  /** Entries (and, warm, records) ring capacity. */
  ringRecords: number;
  segmentRecords: number;
  control: SharedArrayBuffer;
  counts: SharedArrayBuffer;
}

/** Where a record keeps its due time (float64 LE) and sequence number (float64 LE). */
const DUE_AT = 16;
const SEQ_AT = 24;
const RING_BYTES = 256 * 1024 * 1024;
const SEGMENT_BYTES = 64 * 1024 * 1024;

/** Where the main thread's records live: record i's mapping and byte position. */
export interface RecordFiles {
  /** The mapping record `i` is in (mapped, created or prepared as needed), and its position. */
  at(i: number): { mapping: ArrayBuffer; pos: number };
  /** New files created and deleted so far (fresh). */
  created: number;
  deleted: number;
  /** The writer wrote records below `i` (prefault follows it). */
  wroteTo(i: number): void;
  close(): void;
}

/** 'warm': one ring mapping, faulted in before the run. */
function warmRing(s: PipelineShared): RecordFiles {
  const mapping = native.mapFile(s.logPath, s.ringRecords * s.recordBytes, MapFlags.create);
  new Uint8Array(mapping).fill(0);
  const place = { mapping, pos: 0 };
  return {
    at: (i) => {
      place.pos = (i % s.ringRecords) * s.recordBytes;
      return place;
    },
    created: 0,
    deleted: 0,
    wroteTo: () => {},
    close: () => release(mapping),
  };
}

/** Unmap now if the addon allows it (else the finalizer does, later). */
function release(mapping: ArrayBuffer): void {
  try {
    native.releaseMapping(mapping);
  } catch {
    // still in use by a native task: left to the finalizer
  }
}

/** The file of segment `n` of the fresh layout (the worker maps the same names). */
export function segmentPath(logPath: string, n: number): string {
  return `${logPath}.${n}`;
}

/**
 * 'fresh': new files of segmentRecords records, created (preallocated, mapped) half a segment
 * ahead, the writer followed by the prefault thread; all deleted at close.
 */
function freshSegments(s: PipelineShared): RecordFiles {
  const segBytes = s.segmentRecords * s.recordBytes;
  const maps = new Map<number, ArrayBuffer>();
  const cells = native.prefaultWriter();
  let nextFollowAt = 0;
  const mapOf = (n: number): ArrayBuffer => {
    let m = maps.get(n);
    if (m === undefined) {
      m = native.mapFile(segmentPath(s.logPath, n), segBytes, MapFlags.create);
      maps.set(n, m);
      files.created++;
    }
    return m;
  };
  const remove = (n: number): void => {
    const m = maps.get(n);
    maps.delete(n);
    if (m !== undefined) release(m);
    rmSync(segmentPath(s.logPath, n), { force: true });
    files.deleted++;
  };
  const follow = (n: number): void => {
    native.prefaultFollow(
      mapOf(n),
      cells,
      n * segBytes,
      PREFAULT_LEAD_BYTES,
      PREFAULT_CHUNK_BYTES,
      PREFAULT_IDLE_MS,
    );
  };
  const files: RecordFiles = {
    at: (i) => {
      const n = Math.floor(i / s.segmentRecords);
      place.mapping = mapOf(n);
      place.pos = (i - n * s.segmentRecords) * s.recordBytes;
      return place;
    },
    wroteTo: (i) => {
      const wrote = i * s.recordBytes;
      cells[0] = wrote;
      if (wrote < nextFollowAt) return;
      nextFollowAt = wrote + PREFAULT_CHUNK_BYTES;
      const n = Math.floor(wrote / segBytes);
      follow(n);
      if (wrote - n * segBytes > segBytes / 2) mapOf(n + 1); // prepared ahead
      if (wrote + PREFAULT_LEAD_BYTES > (n + 1) * segBytes) follow(n + 1);
    },
    created: 0,
    deleted: 0,
    close: () => {
      cells[1] = 1;
      for (const n of [...maps.keys()]) remove(n);
    },
  };
  const place = { mapping: mapOf(0), pos: 0 }; // the worker maps the first file as it starts
  return files;
}

export async function limitBrokerPipeline(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const recordBytes = num(spec, 'recordBytes');
  const batch = num(spec, 'batch');
  const atRatePerSec = typeof spec.params.atRatePerSec === 'number' ? spec.params.atRatePerSec : 0;
  const pages = spec.params.pages === 'fresh' ? 'fresh' : 'warm';
  const ringRecords = Math.floor(RING_BYTES / recordBytes);
  mkdirSync(dir, { recursive: true });
  const shared: PipelineShared = {
    pages,
    logPath: path.join(dir, 'pipeline-log'),
    entriesPath: path.join(dir, 'pipeline-entries'),
    recordBytes,
    ringRecords,
    segmentRecords: Math.floor(SEGMENT_BYTES / recordBytes),
    control: new SharedArrayBuffer(16),
    counts: new SharedArrayBuffer(16),
  };
  const files = pages === 'fresh' ? freshSegments(shared) : warmRing(shared);
  const entryBytes = Math.ceil((ringRecords * ENTRY_BYTES) / 4096) * 4096;
  const entries = native.mapFile(shared.entriesPath, entryBytes, MapFlags.create);
  new Uint8Array(entries).fill(0); // the entries stay a warm ring either way
  const ctl = new Int32Array(shared.control);
  const counts = new Int32Array(shared.counts);
  const entryView = new DataView(entries);
  const template = Buffer.alloc(recordBytes, 7);
  template.writeInt32BE(recordBytes, 0);
  /** A DataView and byte view per mapping, made once. */
  const views = new WeakMap<ArrayBuffer, { bytes: Uint8Array; view: DataView }>();
  const viewsOf = (m: ArrayBuffer): { bytes: Uint8Array; view: DataView } => {
    let v = views.get(m);
    if (v === undefined) {
      v = { bytes: new Uint8Array(m), view: new DataView(m) };
      views.set(m, v);
    }
    return v;
  };

  const worker = new Worker(new URL('./broker-pipeline-worker.js', import.meta.url), {
    workerData: shared,
    execArgv: [],
  });
  const workerResult = new Promise<{ badRecords: number }>((resolve, reject) => {
    worker.on('message', (m) => {
      if (m !== 'ready') resolve(m as { badRecords: number });
    });
    worker.once('error', reject);
    worker.once('exit', (code) =>
      reject(new Error(`the pipeline worker exited (code ${code}) before reporting`)),
    );
  });
  workerResult.catch(() => {}); // awaited below; a failure before then is reported there
  await Promise.race([
    new Promise<void>((resolve) => worker.once('message', () => resolve())),
    workerResult.then(() => {}),
  ]);

  let written = 0;
  let consumed = 0;
  let overruns = 0;
  let misordered = 0;
  let bodyBytesSeen = 0;
  /** Write `n` records due at firstDueMs + i·stepMs; refused where the ring has no room. */
  const send = (n: number, firstDueMs: number, stepMs: number): void => {
    for (let i = 0; i < n; i++) {
      if (written - consumed >= ringRecords) {
        overruns++;
        continue;
      }
      const place = files.at(written);
      const v = viewsOf(place.mapping);
      v.bytes.set(template, place.pos);
      v.view.setFloat64(place.pos + DUE_AT, firstDueMs + i * stepMs, true);
      v.view.setFloat64(place.pos + SEQ_AT, written, true);
      written++;
    }
    files.wroteTo(written);
    Atomics.store(counts, WRITTEN, written);
    Atomics.add(ctl, CTL_WRITTEN_SEQ, 1);
    Atomics.notify(ctl, CTL_WRITTEN_SEQ);
  };

  let recorder: LatencyRecorder | undefined;
  let timedFrom = Number.POSITIVE_INFINITY;
  let stop = false;
  const consume = async (): Promise<void> => {
    while (!stop) {
      const seq = Atomics.load(ctl, CTL_DISPATCHED_SEQ);
      const upto = Atomics.load(counts, DISPATCHED);
      if (upto > consumed) {
        const now = performance.now();
        for (; consumed < upto; consumed++) {
          const e = (consumed % ringRecords) * ENTRY_BYTES;
          const place = files.at(consumed);
          const pos = entryView.getFloat64(e, false);
          const logView = viewsOf(place.mapping).view;
          const body = Buffer.from(place.mapping, pos + recordBytes - bodyBytes, bodyBytes);
          bodyBytesSeen += body.length;
          if (pos !== place.pos || logView.getFloat64(pos + SEQ_AT, true) !== consumed) misordered++;
          const due = logView.getFloat64(pos + DUE_AT, true);
          if (recorder && due >= timedFrom) recorder.recordNs((now - due) * 1e6);
        }
        continue;
      }
      const wait = waitAsync(ctl, CTL_DISPATCHED_SEQ, seq, 100);
      if (wait.async) await wait.value;
    }
  };
  const consumer = consume();

  const maxInFlight = 64 * batch;
  const flatOut = async (untilNs: number): Promise<void> => {
    while (nowNs() < untilNs) {
      const room = Math.min(batch, maxInFlight - (written - consumed));
      if (room > 0) send(room, 0, 0);
      await tick();
    }
  };
  const { warmupMs, windowMs, paced: ms } = phaseMs(spec);
  await flatOut(nowNs() + warmupMs * 1e6);
  const consumed0 = consumed;
  const t0 = nowNs();
  await flatOut(t0 + windowMs * 1e6);
  const peakNs = nowNs() - t0;
  const peakOps = consumed - consumed0;
  const peakPerSec = peakOps / (peakNs / 1e9);
  while (consumed < written) await tick();

  const pipeline: PacedPipeline = {
    emit: send,
    timeFrom: (r, fromMs) => {
      recorder = r;
      timedFrom = fromMs;
    },
    drained: async () => {
      const until = Date.now() + 10_000;
      while (consumed < written && Date.now() < until) await tick();
    },
  };
  const summary = await timedAt(
    pipeline,
    peakPerSec / 2,
    ms,
    'due time of the write to the consumer taking the message, at half of peak',
  );
  const byLoad = await lighterLoads(pipeline, peakPerSec, ms);
  const atTidemq: Record<string, number> = {};
  if (atRatePerSec > 0) {
    const s = await timedAt(pipeline, atRatePerSec, ms, '');
    atTidemq.atTidemqRatePerSec = Math.round(atRatePerSec);
    atTidemq.latencyP50MsAtTidemqRate = roundMs(s.p50Us);
    atTidemq.latencyP99MsAtTidemqRate = roundMs(s.p99Us);
  }
  stop = true;
  Atomics.store(ctl, CTL_STOP, 1);
  Atomics.add(ctl, CTL_WRITTEN_SEQ, 1);
  Atomics.notify(ctl, CTL_WRITTEN_SEQ);
  Atomics.add(ctl, CTL_DISPATCHED_SEQ, 1);
  Atomics.notify(ctl, CTL_DISPATCHED_SEQ);
  const { badRecords } = await workerResult;
  await consumer;
  await worker.terminate();
  files.close();
  return {
    status: 'ok',
    ops: peakOps,
    bytes: peakOps * bodyBytes,
    elapsedMs: peakNs / 1e6,
    latency: summary,
    check: {
      passed:
        consumed === written &&
        overruns === 0 &&
        misordered === 0 &&
        badRecords === 0 &&
        bodyBytesSeen === consumed * bodyBytes &&
        (pages === 'warm' || (files.created >= 2 && files.deleted === files.created)) &&
        summary.count > 0,
      description:
        'every record written was dispatched and consumed once, in order, with its size intact; the ring never overran; fresh: the writer rolled into new files and every one was deleted; phase 2 timed messages',
      written,
      consumed,
      overruns,
      misordered,
      badRecords,
      filesCreated: files.created,
      filesDeleted: files.deleted,
    },
    method: `main thread writes ${recordBytes} B records ${pages === 'fresh' ? `into new ${SEGMENT_BYTES / 2 ** 20} MiB files (prefault thread ahead of the writer, all kept until the end)` : `into a ${RING_BYTES / 2 ** 20} MiB ring mapping already in memory`}, one worker thread writes a 20 B entry per record, the main thread's consumer makes a Buffer view per message (the worker polls every ms with Atomics.wait, the consumer waits with Atomics.waitAsync); flat out with at most ${maxInFlight} in flight for the peak, then paced as the broker scenario (paced.ts)${atRatePerSec > 0 ? `, and at the broker's half-peak rate (${Math.round(atRatePerSec)}/s)` : ''}`,
    extra: {
      pages,
      peakMsgPerSec: Math.round(peakPerSec),
      pacedMsgPerSec: Math.round(peakPerSec / 2),
      pacedMs: ms.paceMs,
      recordBytes,
      ...byLoad,
      ...atTidemq,
    },
  };
}
