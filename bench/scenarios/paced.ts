/**
 * The open-loop latency method shared by the broker end-to-end scenario and its machine limit
 * (limits/broker-pipeline.ts): messages are sent at a fixed rate, one slice every millisecond,
 * without waiting for anything, each stamped with the time it was due; every rate first runs
 * untimed for a while, then every message due in the window is timed until it reaches the
 * consumer. A stall of the event loop counts against the messages it delayed (no coordinated
 * omission).
 */
import { BufferedLatencyRecorder, type LatencyRecorder } from '../histogram.js';
import { nowNs } from '../measure.js';
import type { LatencySummary, ScenarioSpec } from '../spec.js';

export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
export const sleep1ms = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1));

/** Shares of the peak rate timed after the half-peak phase, each for the same window. */
export const LIGHTER_LOADS = [0.25, 0.1];

/**
 * The phases' lengths: flat-out warm-up and window of at least a few hundred ms (the first
 * receives wait for the worker and the JIT, which a --quick window of 100 ms would not outlast),
 * then each paced rate warmMs untimed and paceMs (the window's length) timed.
 */
export function phaseMs(spec: ScenarioSpec): {
  warmupMs: number;
  windowMs: number;
  paced: { warmMs: number; paceMs: number };
} {
  const windowMs = Math.max(300, spec.durationMs);
  return {
    warmupMs: Math.max(200, spec.warmupMs),
    windowMs,
    paced: { warmMs: Math.max(200, Math.min(500, windowMs / 2)), paceMs: windowMs },
  };
}

/** What a paced phase drives. */
export interface PacedPipeline {
  /** Send `n` messages, due at firstDueMs, firstDueMs + stepMs, … (performance.now() ms). */
  emit(n: number, firstDueMs: number, stepMs: number): void;
  /**
   * From now on, record each message due at or after `fromMs` into `recorder` when the consumer
   * gets it (undefined: record nothing).
   */
  timeFrom(recorder: LatencyRecorder | undefined, fromMs: number): void;
  /** Resolves once everything sent has been consumed (or a bounded wait is over). */
  drained(): Promise<void>;
}

/**
 * `perSec` messages a second until `untilNs`: each time the loop wakes (every millisecond) it
 * sends what has fallen due since, in one emit, and sleeps again. (A loop that awaited every
 * slice's receipts and polled with setImmediate became a closed loop of a few messages per call
 * that kept the event loop busy spinning.)
 */
export async function pacedLoop(p: PacedPipeline, perSec: number, untilNs: number): Promise<void> {
  const start = nowNs();
  const startMs = performance.now();
  const stepMs = 1000 / perSec;
  let due = 0;
  while (nowNs() < untilNs) {
    const owed = Math.floor(((nowNs() - start) / 1e9) * perSec) - due;
    if (owed > 0) {
      p.emit(owed, startMs + due * stepMs, stepMs);
      due += owed;
    }
    await sleep1ms();
  }
}

/**
 * Time one rate: warmMs untimed (what an earlier phase left behind — a backlog, a pending
 * collection — is not timed as latency at this rate), then paceMs timed, then drain. `window`
 * brackets the timed part (an event-loop monitor, say).
 */
export async function timedAt(
  p: PacedPipeline,
  perSec: number,
  ms: { warmMs: number; paceMs: number },
  unit: string,
  window?: { start(): void; stop(): void },
): Promise<LatencySummary> {
  // Sized for the span's messages (and a margin), so that recording never copies mid-span.
  const recorder = new BufferedLatencyRecorder(perSec * (ms.paceMs / 1000) * 1.25);
  // The warm span's first part times into a recorder of its own, so that the consumer's timing
  // path (a branch not taken before, the recorder's code) is compiled before the timed span: else
  // the hot loop deoptimized at its first timed message and the timed span began with a few ms
  // of tail that was the harness's JIT, not the pipeline. Only its first part: recording costs
  // the consumer, and a pipeline near its limit (the floor at half its own peak) would carry the
  // backlog of a whole recorded warm span into the timed one.
  const jitWarmMs = Math.min(100, ms.warmMs / 4);
  // (the same class as the timed recorder: the call site stays monomorphic)
  p.timeFrom(new BufferedLatencyRecorder(perSec * (jitWarmMs / 1000) * 1.25), performance.now());
  await pacedLoop(p, perSec, nowNs() + jitWarmMs * 1e6);
  p.timeFrom(undefined, Number.POSITIVE_INFINITY);
  await pacedLoop(p, perSec, nowNs() + (ms.warmMs - jitWarmMs) * 1e6);
  p.timeFrom(recorder, performance.now());
  window?.start();
  await pacedLoop(p, perSec, nowNs() + ms.paceMs * 1e6);
  await p.drained();
  window?.stop();
  p.timeFrom(undefined, Number.POSITIVE_INFINITY);
  return recorder.summary(unit);
}

/**
 * LIGHTER_LOADS, each timed on its own after the half-peak phase, as extra fields:
 * pacedMsgPerSecAt25pct, latencyP50MsAt25pct, latencyP99MsAt25pct, … (where the tail comes from
 * load, it shrinks here).
 */
export async function lighterLoads(
  p: PacedPipeline,
  peakPerSec: number,
  ms: { warmMs: number; paceMs: number },
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const share of LIGHTER_LOADS) {
    const s = await timedAt(p, peakPerSec * share, ms, '');
    const at = `At${Math.round(share * 100)}pct`;
    out[`pacedMsgPerSec${at}`] = Math.round(peakPerSec * share);
    out[`latencyP50Ms${at}`] = roundMs(s.p50Us);
    out[`latencyP99Ms${at}`] = roundMs(s.p99Us);
  }
  return out;
}

/** µs as ms with two decimals. */
export function roundMs(us: number): number {
  return Math.round(us / 10) / 100;
}
