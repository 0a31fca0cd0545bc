/**
 * Measurement loops. Every scenario runs warm-up (discarded), then a fixed measurement window.
 *
 * Reading the clock costs ~100 ns on some virtual machines — as much as a tidemq append — so a
 * synchronous hot loop is measured in two phases: a throughput phase that reads the clock only
 * every `stride` calls (stride adapts so a check happens about every millisecond), then a
 * latency phase that times every call. Asynchronous loops (put with N putters) time every call:
 * their latencies are far above the clock's cost.
 */
import { readFileSync } from 'node:fs';
import { LatencyRecorder } from './histogram.js';
import type { LatencySummary, ScenarioSpec } from './spec.js';

export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/** CPU time (user + system) of this process's main thread in µs, from /proc (Linux only). */
export function mainThreadCpuUs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // fields after "(comm)": state is field 3, utime 14, stime 15 (clock ticks, 100 per second)
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return -1;
  }
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
  /** Messages one call handles, unless the call returns its own count. */
  opsPerCall: number;
  latencyUnit: string;
  /** Stop early once this many calls were made in the window. */
  maxCalls: number;
  /** One call; may return the number of messages it handled (e.g. a receive's batch). */
  // biome-ignore lint/suspicious/noConfusingVoidType: most calls are plain `async () => { … }`
  call: (worker: number) => Promise<void | number>;
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
  let measuredOps = 0;
  let totalCalls = 0;
  let totalOps = 0;
  const worker = async (id: number) => {
    for (;;) {
      const t0 = nowNs();
      if (t0 >= windowEnd && measuredCalls > 0) return;
      const handled = await o.call(id);
      const t1 = nowNs();
      const ops = typeof handled === 'number' ? handled : o.opsPerCall;
      totalCalls++;
      totalOps += ops;
      if (t1 < windowStart) continue;
      if (t1 >= windowEnd) {
        if (measuredCalls > 0) continue;
        windowEnd = t1 + 1; // stretched to the first completion
      }
      measuredCalls++;
      measuredOps += ops;
      if (ops > 0) recorder.recordNsWithCount(t1 - t0, ops);
      if (measuredCalls >= o.maxCalls) windowEnd = t1;
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, (_, i) => worker(i)));
  return {
    ops: measuredOps,
    elapsedMs: (Math.min(windowEnd, nowNs()) - windowStart) / 1e6,
    latency: recorder.summary(o.latencyUnit),
    totalCalls,
    totalOps,
  };
}

export interface OpenLoopOptions {
  /** Calls started per second, on a fixed schedule, whether or not earlier calls finished. */
  ratePerSec: number;
  durationMs: number;
  /** Calls whose start falls due while this many are unfinished are skipped (and counted). */
  maxOutstanding: number;
  call: () => Promise<void>;
}

export interface OpenLoopResult {
  started: number;
  completed: number;
  failed: number;
  /** Scheduled calls not started because maxOutstanding were unfinished. */
  skipped: number;
  /** Calls started per second, as achieved. */
  startedPerSec: number;
  /** Call start to resolve. */
  latency: LatencyRecorder;
  /** Scheduled start to resolve: includes the client's own lateness in starting the call. */
  fromSchedule: LatencyRecorder;
}

/**
 * An open (rate-driven) loop: calls fall due every 1/rate seconds and are started at the next
 * 1 ms timer tick after they fall due, so a slow call never delays the next one (unlike a
 * closed loop, whose callers wait and so hide queueing). The client sleeps between ticks
 * instead of spinning, leaving the CPU to the server.
 */
export async function runOpenLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const latency = new LatencyRecorder();
  const fromSchedule = new LatencyRecorder();
  const intervalNs = 1e9 / o.ratePerSec;
  const start = nowNs();
  const end = start + o.durationMs * 1e6;
  let next = start;
  let started = 0;
  let completed = 0;
  let failed = 0;
  let skipped = 0;
  let outstanding = 0;
  let drained: (() => void) | undefined;
  const settle = () => {
    outstanding--;
    if (outstanding === 0) drained?.();
  };
  const begin = (scheduled: number) => {
    const t0 = nowNs();
    started++;
    outstanding++;
    o.call().then(
      () => {
        const t1 = nowNs();
        latency.recordNs(t1 - t0);
        fromSchedule.recordNs(t1 - scheduled);
        completed++;
        settle();
      },
      () => {
        failed++;
        settle();
      },
    );
  };
  while (next < end) {
    const now = nowNs();
    for (; next <= now && next < end; next += intervalNs) {
      if (outstanding < o.maxOutstanding) begin(next);
      else skipped++;
    }
    await new Promise<void>((resolve) => setTimeout(resolve, 1));
  }
  const elapsedNs = nowNs() - start;
  if (outstanding > 0) await new Promise<void>((resolve) => (drained = resolve));
  return {
    started,
    completed,
    failed,
    skipped,
    startedPerSec: Math.round(started / (elapsedNs / 1e9)),
    latency,
    fromSchedule,
  };
}
