/**
 * The machine's limit for the broker end-to-end scenario: the same pipeline shape with almost no
 * work per message, timed by the same method (paced.ts).
 *
 * - The main thread writes records of tidemq's size for the body (header, topic, UNIQ_KEY) into a
 *   ring-shaped file mapping, already in memory (no page-cache growth), stamps each with its due
 *   time and sequence number, and publishes the count (Atomics.notify).
 * - A worker thread (broker-pipeline-worker.ts) walks the new records and writes a 20-byte entry
 *   for each into a second mapping, then publishes its count and wakes the main thread.
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
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { MapFlags, native } from '../../src/native.js';
import type { LatencyRecorder } from '../histogram.js';
import { nowNs } from '../measure.js';
import { num } from '../outcome.js';
import { lighterLoads, type PacedPipeline, roundMs, tick, timedAt } from '../scenarios/paced.js';
import type { ScenarioOutcome, ScenarioSpec } from '../spec.js';

/** Int32 cells of the control block. */
export const CTL_WRITTEN_SEQ = 0;
export const CTL_DISPATCHED_SEQ = 1;
export const CTL_STOP = 2;
/** Float64 cells of the counts block. */
export const WRITTEN = 0;
export const DISPATCHED = 1;
export const ENTRY_BYTES = 20;

export interface PipelineShared {
  logPath: string;
  entriesPath: string;
  recordBytes: number;
  ringRecords: number;
  control: SharedArrayBuffer;
  counts: SharedArrayBuffer;
}

/** Where a record keeps its due time (float64 LE) and sequence number (float64 LE). */
const DUE_AT = 16;
const SEQ_AT = 24;
const RING_BYTES = 256 * 1024 * 1024;

/** Atomics.waitAsync (Node ≥ 16; not in the ES2023 typings this project compiles against). */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      a: Int32Array,
      index: number,
      value: number,
      timeoutMs: number,
    ): { async: boolean; value: unknown };
  }
).waitAsync;

export async function limitBrokerPipeline(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const recordBytes = num(spec, 'recordBytes');
  const batch = num(spec, 'batch');
  const atRate = typeof spec.params.atRate === 'number' ? spec.params.atRate : 0;
  const ringRecords = Math.floor(RING_BYTES / recordBytes);
  mkdirSync(dir, { recursive: true });
  const shared: PipelineShared = {
    logPath: path.join(dir, 'pipeline-log'),
    entriesPath: path.join(dir, 'pipeline-entries'),
    recordBytes,
    ringRecords,
    control: new SharedArrayBuffer(16),
    counts: new SharedArrayBuffer(16),
  };
  const log = native.mapFile(shared.logPath, ringRecords * recordBytes, MapFlags.create);
  const entryBytes = Math.ceil((ringRecords * ENTRY_BYTES) / 4096) * 4096;
  const entries = native.mapFile(shared.entriesPath, entryBytes, MapFlags.create);
  // in memory before the run: a store's page-cache growth is left out of this limit
  new Uint8Array(log).fill(0);
  new Uint8Array(entries).fill(0);
  const ctl = new Int32Array(shared.control);
  const counts = new Float64Array(shared.counts);
  const logBytes = new Uint8Array(log);
  const logView = new DataView(log);
  const entryView = new DataView(entries);
  const template = Buffer.alloc(recordBytes, 7);
  template.writeInt32BE(recordBytes, 0);

  const worker = new Worker(new URL('./broker-pipeline-worker.js', import.meta.url), {
    workerData: shared,
    execArgv: [],
  });
  const workerResult = new Promise<{ badRecords: number }>((resolve, reject) => {
    worker.on('message', (m) => {
      if (m !== 'ready') resolve(m as { badRecords: number });
    });
    worker.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });

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
      const at = (written % ringRecords) * recordBytes;
      logBytes.set(template, at);
      logView.setFloat64(at + DUE_AT, firstDueMs + i * stepMs, true);
      logView.setFloat64(at + SEQ_AT, written, true);
      written++;
    }
    counts[WRITTEN] = written;
    Atomics.add(ctl, CTL_WRITTEN_SEQ, 1);
    Atomics.notify(ctl, CTL_WRITTEN_SEQ);
  };

  let recorder: LatencyRecorder | undefined;
  let timedFrom = Number.POSITIVE_INFINITY;
  let stop = false;
  const consume = async (): Promise<void> => {
    while (!stop) {
      const seq = Atomics.load(ctl, CTL_DISPATCHED_SEQ);
      const upto = counts[DISPATCHED]!;
      if (upto > consumed) {
        const now = performance.now();
        for (; consumed < upto; consumed++) {
          const e = (consumed % ringRecords) * ENTRY_BYTES;
          const at = entryView.getFloat64(e, false);
          const body = Buffer.from(log, at + recordBytes - bodyBytes, bodyBytes);
          bodyBytesSeen += body.length;
          if (logView.getFloat64(at + SEQ_AT, true) !== consumed) misordered++;
          const due = logView.getFloat64(at + DUE_AT, true);
          if (recorder && due >= timedFrom) recorder.recordNs((now - due) * 1e6);
        }
        continue;
      }
      const wait = waitAsync(ctl, CTL_DISPATCHED_SEQ, seq, 100);
      if (wait.async) await wait.value;
    }
  };
  const consumer = consume();

  const window = 64 * batch;
  const flatOut = async (untilNs: number): Promise<void> => {
    while (nowNs() < untilNs) {
      const room = Math.min(batch, window - (written - consumed));
      if (room > 0) send(room, 0, 0);
      await tick();
    }
  };
  const warmupMs = Math.max(200, spec.warmupMs);
  const windowMs = Math.max(300, spec.durationMs);
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
  const ms = { warmMs: Math.max(200, Math.min(500, windowMs / 2)), paceMs: windowMs };
  const summary = await timedAt(
    pipeline,
    peakPerSec / 2,
    ms,
    'due time of the write to the consumer taking the message, at half of peak',
  );
  const byLoad = await lighterLoads(pipeline, peakPerSec, ms);
  const atTidemq: Record<string, number> = {};
  if (atRate > 0) {
    const s = await timedAt(pipeline, atRate, ms, '');
    atTidemq.atTidemqRatePerSec = Math.round(atRate);
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
        summary.count > 0,
      description:
        'every record written was dispatched and consumed once, in order, with its size intact; the ring never overran; phase 2 timed messages',
      written,
      consumed,
      overruns,
      misordered,
      badRecords,
    },
    method: `main thread writes ${recordBytes} B records into a ${RING_BYTES / 2 ** 20} MiB ring mapping already in memory, one worker thread writes a 20 B entry per record, the main thread's consumer makes a Buffer view per message (Atomics notify/waitAsync both ways); flat out with at most ${window} in flight for the peak, then paced as the broker scenario (paced.ts)${atRate > 0 ? `, and at the broker's half-peak rate (${Math.round(atRate)}/s)` : ''}`,
    extra: {
      peakMsgPerSec: Math.round(peakPerSec),
      pacedMsgPerSec: Math.round(peakPerSec / 2),
      pacedMs: ms.paceMs,
      recordBytes,
      ...byLoad,
      ...atTidemq,
    },
  };
}
