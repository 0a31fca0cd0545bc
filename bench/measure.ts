/**
 * Measurement loops. Every scenario runs warm-up (discarded), then a fixed measurement window.
 *
 * Reading the clock costs ~100 ns on some virtual machines — as much as a tidemq append — so a
 * synchronous hot loop is measured in two phases: a throughput phase that reads the clock only
 * every `stride` calls (stride adapts so a check happens about every millisecond), then a
 * latency phase that times every call. Asynchronous loops (put with N putters) time every call:
 * their latencies are far above the clock's cost.
 */
import { LatencyRecorder } from './histogram.js';
import type { LatencySummary, ScenarioSpec } from './spec.js';

export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/** The cheapest observed cost of one clock read, in ns (reported next to latencies). */
export function clockOverheadNs(): number {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 20; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 999; i++) process.hrtime.bigint();
    const t1 = process.hrtime.bigint();
    best = Math.min(best, Number(t1 - t0) / 1000);
  }
  return Math.round(best);
}

export interface LoopResult {
  /** Messages measured in the throughput window. */
  ops: number;
  elapsedMs: number;
  latency: LatencySummary;
  /** Calls made in all phases (warm-up included), for checks against the store's own counters. */
  totalCalls: number;
  /** Messages handled in all phases. */
  totalOps: number;
}

export interface SyncLoopOptions {
  warmupMs: number;
  durationMs: number;
  /** Stop the throughput phase after this many calls even if the window is not over. */
  maxCalls: number;
  /** Length of the per-call latency phase. */
  latencyMs: number;
  latencyUnit: string;
  /** One call; returns the number of messages it handled. */
  call: () => number;
}

/** Runs `call` for at least `ms` (or `maxCalls`), checking the clock every `stride` calls. */
function timedPhase(
  ms: number,
  maxCalls: number,
  call: () => number,
): { calls: number; ops: number; elapsedNs: number } {
  const start = nowNs();
  const deadline = start + ms * 1e6;
  let calls = 0;
  let ops = 0;
  let stride = 1;
  let last = start;
  while (calls < maxCalls) {
    const n = Math.min(stride, maxCalls - calls);
    for (let i = 0; i < n; i++) ops += call();
    calls += n;
    const now = nowNs();
    if (now >= deadline) return { calls, ops, elapsedNs: now - start };
    if (now - last < 500_000 && stride < 65_536) stride *= 2;
    last = now;
  }
  return { calls, ops, elapsedNs: nowNs() - start };
}

/** The phases every synchronous loop of a scenario uses: warm-up, measured window, latency window. */
export function loopTiming(
  spec: ScenarioSpec,
): Pick<SyncLoopOptions, 'warmupMs' | 'durationMs' | 'latencyMs'> {
  return {
    warmupMs: spec.warmupMs,
    durationMs: spec.durationMs,
    latencyMs: Math.max(20, spec.durationMs / 4),
  };
}

export function runSyncLoop(o: SyncLoopOptions): LoopResult {
  const warm = timedPhase(o.warmupMs, o.maxCalls, o.call);
  const measured = timedPhase(o.durationMs, o.maxCalls, o.call);
  const recorder = new LatencyRecorder();
  const deadline = nowNs() + o.latencyMs * 1e6;
  let latencyCalls = 0;
  let latencyOps = 0;
  let prev = nowNs();
  // at least a few calls even when the latency phase is shorter than one call
  while (latencyCalls < 16 || (prev < deadline && latencyCalls < o.maxCalls)) {
    latencyOps += o.call();
    const now = nowNs();
    recorder.recordNs(now - prev);
    prev = now;
    latencyCalls++;
  }
  return {
    ops: measured.ops,
    elapsedMs: measured.elapsedNs / 1e6,
    latency: recorder.summary(o.latencyUnit),
    totalCalls: warm.calls + measured.calls + latencyCalls,
    totalOps: warm.ops + measured.ops + latencyOps,
  };
}

export interface ConcurrentLoopOptions {
  warmupMs: number;
  durationMs: number;
  /** Independent callers, each awaiting its own call before making the next. */
  concurrency: number;
  opsPerCall: number;
  latencyUnit: string;
  /** Stop early once this many calls were made in the window. */
  maxCalls: number;
  call: (worker: number) => Promise<void>;
}

/**
 * N concurrent callers. The window is clock-driven (no timers, so callers whose promises resolve
 * in microtasks cannot starve it): a call counts when it completes inside the window, and records
 * its own call-to-completion time. When a call takes longer than the whole window (a slow disk),
 * the window stretches to the first completion, so a figure is never built from zero calls.
 */
export async function runConcurrentLoop(o: ConcurrentLoopOptions): Promise<LoopResult> {
  const recorder = new LatencyRecorder();
  const start = nowNs();
  const windowStart = start + o.warmupMs * 1e6;
  let windowEnd = windowStart + o.durationMs * 1e6;
  let measuredCalls = 0;
  let totalCalls = 0;
  const worker = async (id: number) => {
    for (;;) {
      const t0 = nowNs();
      if (t0 >= windowEnd && measuredCalls > 0) return;
      await o.call(id);
      const t1 = nowNs();
      totalCalls++;
      if (t1 < windowStart) continue;
      if (t1 >= windowEnd) {
        if (measuredCalls > 0) continue;
        windowEnd = t1 + 1; // stretched to the first completion
      }
      measuredCalls++;
      recorder.recordNsWithCount(t1 - t0, o.opsPerCall);
      if (measuredCalls >= o.maxCalls) windowEnd = t1;
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, (_, i) => worker(i)));
  return {
    ops: measuredCalls * o.opsPerCall,
    elapsedMs: (Math.min(windowEnd, nowNs()) - windowStart) / 1e6,
    latency: recorder.summary(o.latencyUnit),
    totalCalls,
    totalOps: totalCalls * o.opsPerCall,
  };
}
