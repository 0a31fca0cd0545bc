/** Helpers for scenario implementations: typed parameter access and outcome shapes. */
import type { LoopResult } from './measure.js';
import type { Check, ParamValue, ScenarioOutcome, ScenarioSpec } from './spec.js';

export function num(spec: ScenarioSpec, key: string): number {
  const v = spec.params[key];
  if (typeof v !== 'number') throw new Error(`${spec.name}: parameter ${key} must be a number`);
  return v;
}

export function str(spec: ScenarioSpec, key: string): string {
  const v = spec.params[key];
  if (typeof v !== 'string') throw new Error(`${spec.name}: parameter ${key} must be a string`);
  return v;
}

export function bool(spec: ScenarioSpec, key: string): boolean {
  const v = spec.params[key];
  if (typeof v !== 'boolean') throw new Error(`${spec.name}: parameter ${key} must be a boolean`);
  return v;
}

export function notAvailable(reason: string): ScenarioOutcome {
  return {
    status: 'not-available',
    reason,
    ops: 0,
    bytes: 0,
    elapsedMs: 0,
    check: { passed: false, description: 'not run' },
    method: '',
    extra: {},
  };
}

/** An ok outcome from a measurement loop over messages of `bodyBytes`. */
export function fromLoop(
  r: LoopResult,
  bodyBytes: number,
  check: Check,
  method: string,
  extra: Record<string, ParamValue>,
): ScenarioOutcome {
  return {
    status: 'ok',
    ops: r.ops,
    bytes: r.ops * bodyBytes,
    elapsedMs: r.elapsedMs,
    latency: r.latency,
    check,
    method,
    extra: { ...extra, totalCalls: r.totalCalls, totalOps: r.totalOps },
  };
}

/** Timing of a synchronous hot loop, in words, for the JSON line. */
export function syncMethod(opsPerCall: string): string {
  return `throughput: calls in a fixed window after warm-up, clock read every few hundred µs; latency: a separate phase timing every call (${opsPerCall}); clock cost in extra.clockOverheadNs`;
}
