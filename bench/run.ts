/**
 * `npm run bench` / `tidemq bench`: runs each scenario in a fresh child process on a fresh data
 * directory under os.tmpdir(), then prints a results table, appends one JSON line per scenario
 * and draws the SVG report. Every tidemq figure is ratioed against the best peer and the
 * machine's limit measured in the same run (STYLE.md §13).
 */
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildCatalog } from './catalog.js';
import { rate, us } from './format.js';
import { gitCommit, machineInfo, tidemqEnv } from './machine.js';
import { type BenchOptions, parseOptions, usage } from './options.js';
import { Progress } from './progress.js';
import { renderReport } from './report-svg.js';
import type { MachineInfo, Ratio, ResultLine, ScenarioOutcome, ScenarioSpec } from './spec.js';
import { formatTable } from './table.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The package root: dist/bench/run.js → ../.. */
const packageRoot = path.resolve(here, '..', '..');

export interface BenchRun {
  lines: ResultLine[];
  jsonPath: string;
  reportPath: string;
  /** Scenarios that failed or whose check failed. */
  failures: string[];
}

/** Expected wall time of one scenario, for the progress bar and the child's timeout. */
function expectedMs(spec: ScenarioSpec): number {
  const base = spec.warmupMs + spec.durationMs * 1.25 + 300;
  return spec.kind === 'tidemq-recovery' ? base + spec.maxBytes / 3e5 : base;
}

function runChild(spec: ScenarioSpec, dataDir: string): Promise<ScenarioOutcome> {
  const script = path.join(here, 'scenario-child.js');
  const child = spawn(process.execPath, [script, JSON.stringify(spec), dataDir], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...spec.envOverrides },
  });
  const timeoutMs = 60_000 + expectedMs(spec) * 4 + (spec.kind === 'tidemq-recovery' ? 120_000 : 0);
  return new Promise((resolve) => {
    let outcome: ScenarioOutcome | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('message', (m: { type: string; outcome: ScenarioOutcome }) => {
      if (m.type === 'result') outcome = m.outcome;
    });
    const fail = (reason: string): ScenarioOutcome => ({
      status: 'failed',
      reason,
      ops: 0,
      bytes: 0,
      elapsedMs: 0,
      check: { passed: false, description: 'the scenario process did not report' },
      method: '',
      extra: {},
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve(fail(String(err)));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(outcome ?? fail(`child exited (code ${code}, signal ${signal}) without a result`));
    });
  });
}

interface RunContext {
  machine: MachineInfo;
  node: string;
  commit: string;
  runId: string;
}

function toLine(spec: ScenarioSpec, o: ScenarioOutcome, ctx: RunContext): ResultLine {
  const seconds = o.elapsedMs / 1000;
  const ok = o.status === 'ok' && seconds > 0;
  const line: ResultLine = {
    scenario: spec.name,
    family: spec.family,
    group: spec.group,
    label: spec.label,
    status: o.status,
    parameters: spec.params,
    env: tidemqEnv({ ...process.env, ...spec.envOverrides }),
    envOverrides: spec.envOverrides,
    machine: ctx.machine,
    node: process.version,
    commit: ctx.commit,
    timestamp: new Date().toISOString(),
    warmupMs: spec.warmupMs,
    durationMs: spec.durationMs,
    elapsedMs: Math.round(o.elapsedMs * 1000) / 1000,
    ops: o.ops,
    bytes: o.bytes,
    throughput: {
      msgPerSec: ok ? Math.round(o.ops / seconds) : 0,
      mbPerSec: ok ? Math.round((o.bytes / 1e6 / seconds) * 100) / 100 : 0,
    },
    latencyUs:
      o.latency === undefined
        ? null
        : {
            unit: o.latency.unit,
            count: o.latency.count,
            p50: o.latency.p50Us,
            p99: o.latency.p99Us,
            p999: o.latency.p999Us,
            max: o.latency.maxUs,
            mean: o.latency.meanUs,
          },
    check: o.check,
    method: o.method,
    extra: { ...o.extra, runId: ctx.runId },
  };
  if (o.reason !== undefined) line.reason = o.reason;
  return line;
}

/** Fills vsBestPeer / vsLimit on the tidemq lines from the ok peer and limit lines of their group. */
export function addRatios(lines: ResultLine[]): void {
  const against = (line: ResultLine, family: 'peer' | 'limit'): Ratio => {
    const refs = lines.filter(
      (l) => l.group === line.group && l.family === family && l.status === 'ok' && l.throughput.msgPerSec > 0,
    );
    if (refs.length === 0 || line.status !== 'ok') return { ratio: null, against: refs[0]?.scenario ?? null };
    const best = refs.reduce((a, b) => (b.throughput.msgPerSec > a.throughput.msgPerSec ? b : a));
    return {
      ratio: Math.round((line.throughput.msgPerSec / best.throughput.msgPerSec) * 1000) / 1000,
      against: best.scenario,
    };
  };
  for (const line of lines) {
    if (line.family !== 'tidemq') continue;
    line.vsBestPeer = against(line, 'peer');
    line.vsLimit = against(line, 'limit');
  }
}

/**
 * A limit timed at the rate a tidemq scenario's latency phase ran at (params.atRateOf names it):
 * params.atRatePerSec is that line's pacedMsgPerSec when it ran earlier in this run and passed its
 * check.
 */
function withRateOf(spec: ScenarioSpec, done: ResultLine[]): ScenarioSpec {
  const of = spec.params.atRateOf;
  if (typeof of !== 'string') return spec;
  const rate = done.find((l) => l.scenario === of && l.status === 'ok' && l.check.passed)?.extra
    .pacedMsgPerSec;
  return typeof rate === 'number' ? { ...spec, params: { ...spec.params, atRatePerSec: rate } } : spec;
}

/** The run with the median throughput (the lower middle for an even count); a failed run wins. */
function medianRun<T extends { outcome: ScenarioOutcome }>(runs: T[]): T {
  const bad = runs.find((r) => r.outcome.status !== 'ok');
  if (bad !== undefined) return bad;
  const rateOf = (r: T) => r.outcome.ops / Math.max(1e-9, r.outcome.elapsedMs);
  const sorted = [...runs].sort((a, b) => rateOf(a) - rateOf(b));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

function summary(line: ResultLine): string {
  if (line.status !== 'ok') return `${line.label}: ${line.status} — ${(line.reason ?? '').split('\n')[0]}`;
  const check = line.check.passed ? '' : '  CHECK FAILED';
  const unit = line.family === 'micro' ? 'calls/s' : 'msg/s';
  const half =
    typeof line.extra.halfPeakP99Us === 'number'
      ? `; p99 ${us(line.extra.halfPeakP99Us)} at half peak (${rate(Number(line.extra.halfPeakRatePerSec))} msg/s)`
      : '';
  return `${line.label}: ${rate(line.throughput.msgPerSec)} ${unit}, ${line.throughput.mbPerSec} MB/s${half}${check}`;
}

export async function runBench(argv: string[]): Promise<BenchRun> {
  const options: BenchOptions = parseOptions(argv);
  const catalog = buildCatalog(options);
  if (options.help || options.list) {
    process.stdout.write(options.help ? `${usage}\n` : `${catalog.map((s) => s.name).join('\n')}\n`);
    return { lines: [], jsonPath: options.jsonPath, reportPath: options.reportPath, failures: [] };
  }
  if (catalog.length === 0)
    throw new Error(`no scenario matches ${options.scenarios.join(',')} (try --list)`);

  const tmp = os.tmpdir();
  const ctx: RunContext = {
    machine: machineInfo(tmp),
    node: process.version,
    commit: gitCommit(packageRoot),
    runId: new Date().toISOString(),
  };
  const progress = new Progress(
    catalog.length * options.repeat,
    catalog.reduce((sum, s) => sum + expectedMs(s), 0) * options.repeat,
    options.tty,
  );
  const lines: ResultLine[] = [];
  for (const spec of catalog) {
    const runs: { outcome: ScenarioOutcome; wallMs: number }[] = [];
    const loadAvg1m = Math.round(os.loadavg()[0]! * 100) / 100;
    for (let i = 0; i < options.repeat; i++) {
      progress.begin(
        options.repeat > 1 ? `${spec.name} (${i + 1}/${options.repeat})` : spec.name,
        expectedMs(spec),
      );
      const dataDir = mkdtempSync(path.join(tmp, 'tidemq-bench-'));
      const wallStart = Date.now();
      try {
        runs.push({ outcome: await runChild(withRateOf(spec, lines), dataDir), wallMs: 0 });
      } finally {
        // Deleting the files also drops their dirty pages, so no scenario pays for the previous
        // one's writeback.
        rmSync(dataDir, { recursive: true, force: true });
      }
      runs[runs.length - 1]!.wallMs = Date.now() - wallStart;
      if (runs[runs.length - 1]!.outcome.status !== 'ok') break;
    }
    const chosen = medianRun(runs);
    const line = toLine(spec, chosen.outcome, ctx);
    line.wallMs = chosen.wallMs;
    line.loadAvg1m = loadAvg1m;
    if (runs.length > 1) {
      line.extra.repeatMsgPerSec = runs
        .map((r) => Math.round(r.outcome.ops / (r.outcome.elapsedMs / 1000)))
        .join(',');
      line.extra.repeatChecksPassed = runs.every((r) => r.outcome.check.passed);
      if (!runs.every((r) => r.outcome.check.passed)) line.check = { ...line.check, passed: false };
    }
    lines.push(line);
    progress.end(summary(line), options.repeat);
  }
  progress.finish();
  addRatios(lines);

  mkdirSync(path.dirname(path.resolve(options.jsonPath)), { recursive: true });
  appendFileSync(options.jsonPath, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  mkdirSync(path.dirname(path.resolve(options.reportPath)), { recursive: true });
  writeFileSync(options.reportPath, renderReport(lines, ctx));

  process.stdout.write(`\n${formatTable(lines, options.tty)}\n\n`);
  process.stdout.write(
    `machine: ${ctx.machine.cpus}× ${ctx.machine.cpuModel}, ${Math.round(ctx.machine.memoryBytes / 1024 ** 3)} GiB, ` +
      `${ctx.machine.filesystem} on ${ctx.machine.device}; node ${ctx.node}; commit ${ctx.commit}\n`,
  );
  process.stdout.write(`results: ${options.jsonPath} (appended)  report: ${options.reportPath}\n`);

  const failures = lines
    .filter((l) => l.status === 'failed' || (l.status === 'ok' && !l.check.passed))
    .map((l) => l.scenario);
  return { lines, jsonPath: options.jsonPath, reportPath: options.reportPath, failures };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runBench(process.argv.slice(2)).then(
    (run) => {
      if (run.failures.length > 0) {
        process.stderr.write(`failed: ${run.failures.join(', ')}\n`);
        process.exitCode = 1;
      }
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
