/**
 * Shapes shared by the orchestrator (run.ts) and the scenario child (scenario-child.ts).
 *
 * A scenario is described by a plain-JSON ScenarioSpec, handed to a fresh child process on its
 * command line; the child answers with one ScenarioOutcome over IPC. The orchestrator adds the
 * run context (machine, env, commit) and the ratios, and writes one ResultLine per scenario.
 */

/** Who a figure belongs to: the store under test, a peer, the machine's limit, or a micro-benchmark. */
export type Family = 'tidemq' | 'peer' | 'limit' | 'micro';

export type ParamValue = number | string | boolean;

export interface ScenarioSpec {
  /** Unique, slash-separated, matched by --scenario globs: `tidemq/append/single/100`. */
  name: string;
  family: Family;
  /**
   * Comparison group: tidemq, peer and limit scenarios with the same group measure the same work
   * (same body size, same durability, same concurrency) and are ratioed against each other.
   */
  group: string;
  /** Implementation key the child dispatches on. */
  kind: string;
  /** Short human label for tables and the picture. */
  label: string;
  params: Record<string, ParamValue>;
  /** Env vars this scenario sets for itself (e.g. TIDEMQ_FLUSH=sync for put); recorded in the JSON. */
  envOverrides: Record<string, string>;
  /** Excluded from the figures. */
  warmupMs: number;
  /** Measurement window (the scenario also stops at maxBytes of payload, whichever comes first). */
  durationMs: number;
  maxBytes: number;
}

export interface LatencySummary {
  /** What one recorded value times: one call, one batch, one reopen. */
  unit: string;
  count: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  meanUs: number;
}

/** Proof that the claimed path ran (STYLE.md §13). */
export interface Check {
  passed: boolean;
  /** What was checked, in words. */
  description: string;
  [detail: string]: number | string | boolean;
}

export type Status = 'ok' | 'not-available' | 'failed';

export interface ScenarioOutcome {
  status: Status;
  /** Why not ok. */
  reason?: string;
  /** Messages (or calls, for micro) measured. */
  ops: number;
  /** Payload bytes measured (message bodies; records for the memcpy limit). */
  bytes: number;
  elapsedMs: number;
  latency?: LatencySummary;
  check: Check;
  /** How the figures were taken, in words (timing method, batching). */
  method: string;
  /** Scenario-specific figures (record size, flushes, ops per flush, …). */
  extra: Record<string, ParamValue>;
}

export interface MachineInfo {
  cpuModel: string;
  cpus: number;
  memoryBytes: number;
  os: string;
  dataDir: string;
  filesystem: string;
  device: string;
}

export interface Ratio {
  /** tidemq throughput / this reference's throughput (msg/s), or null when there is none. */
  ratio: number | null;
  /** The reference scenario's name. */
  against: string | null;
}

/** One JSON line of bench-results/results.jsonl. */
export interface ResultLine {
  scenario: string;
  family: Family;
  group: string;
  label: string;
  status: Status;
  reason?: string;
  parameters: Record<string, ParamValue>;
  env: Record<string, string>;
  envOverrides: Record<string, string>;
  machine: MachineInfo;
  node: string;
  commit: string;
  timestamp: string;
  warmupMs: number;
  durationMs: number;
  elapsedMs: number;
  /** 1-minute load average when the scenario started: other work on the machine skews figures. */
  loadAvg1m?: number;
  /** Wall time of the whole child process (setup, warm-up, measurement, teardown). */
  wallMs?: number;
  ops: number;
  bytes: number;
  throughput: { msgPerSec: number; mbPerSec: number };
  latencyUs: {
    unit: string;
    count: number;
    p50: number;
    p99: number;
    p999: number;
    max: number;
    mean: number;
  } | null;
  check: Check;
  method: string;
  extra: Record<string, ParamValue>;
  /** Only on tidemq lines. */
  vsBestPeer?: Ratio;
  vsLimit?: Ratio;
}
