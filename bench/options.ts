/** Command-line options of `npm run bench` / `tidemq bench` (node:util parseArgs). */
import { parseArgs } from 'node:util';

export interface BenchOptions {
  /** Glob patterns over scenario names; empty = all. */
  scenarios: string[];
  /** Body sizes; undefined = each family's defaults. */
  sizes: number[] | undefined;
  concurrency: number[] | undefined;
  durationMs: number;
  warmupMs: number;
  /** Runs per scenario (each in a fresh process); the line reports the median by throughput. */
  repeat: number;
  quick: boolean;
  micro: boolean;
  jsonPath: string;
  reportPath: string;
  list: boolean;
  help: boolean;
  /** Progress bar redraws (false: one line per scenario, as in CI logs). */
  tty: boolean;
}

export const usage = `Usage: npm run bench -- [options]      (or: tidemq bench [options])

  --scenario <glob,…>   run matching scenarios only (e.g. 'tidemq/append/*,peer/*/append/*');
                        a pattern without '*' matches as a prefix
  --sizes <n,…>         message body sizes in bytes (default: 100,1024,4096,65536 for append;
                        100,1024 for put and read)
  --concurrency <n,…>   concurrent putters for the sync put scenarios (default 1,8,64,256)
  --duration-ms <n>     measurement window per scenario (default 1000; --quick 100)
  --warmup-ms <n>       warm-up per scenario, excluded from the figures (default 250; --quick 30)
  --repeat <n>          run each scenario n times, each in a fresh process, and report the
                        median run by throughput (all n figures are in the JSON); default 1
  --quick               the whole run in under 30 s: one size, fewer scenarios, short windows
  --micro               micro-benchmarks only (benchmark.js: CRC32, record codec)
  --json <file>         JSON lines, appended (default bench-results/results.jsonl)
  --report <file>       SVG report (default bench-results/report.svg)
  --list                print the scenario names and exit
  -h, --help            this text

Flush policy comes from the store's env vars (TIDEMQ_FLUSH=sync npm run bench); the put
scenarios set TIDEMQ_FLUSH=sync themselves and say so.

Server scenarios ('tidemq/server/*', 'limit/grpc-ceiling/*') drive a server in its own process
through the official rocketmq-client-nodejs; TIDEMQ_BENCH_SERVER_PROF=<dir> runs that process
under node --cpu-prof and leaves one .cpuprofile per scenario in <dir>.`;

function numberList(name: string, value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const list = value.split(',').map((part) => Number(part.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new Error(`--${name}: expected positive integers separated by commas, got '${value}'`);
  }
  return list;
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0)
    throw new Error(`--${name}: expected a non-negative number, got '${value}'`);
  return n;
}

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      scenario: { type: 'string', multiple: true },
      sizes: { type: 'string' },
      concurrency: { type: 'string' },
      'duration-ms': { type: 'string' },
      'warmup-ms': { type: 'string' },
      repeat: { type: 'string' },
      quick: { type: 'boolean', default: false },
      micro: { type: 'boolean', default: false },
      json: { type: 'string' },
      report: { type: 'string' },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const quick = values.quick === true;
  return {
    scenarios: (values.scenario ?? [])
      .flatMap((s) => s.split(','))
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    sizes: numberList('sizes', values.sizes),
    concurrency: numberList('concurrency', values.concurrency),
    durationMs: positive('duration-ms', values['duration-ms'], quick ? 100 : 1000),
    warmupMs: positive('warmup-ms', values['warmup-ms'], quick ? 30 : 250),
    repeat: Math.max(1, Math.round(positive('repeat', values.repeat, 1))),
    quick,
    micro: values.micro === true,
    jsonPath: values.json ?? 'bench-results/results.jsonl',
    reportPath: values.report ?? 'bench-results/report.svg',
    list: values.list === true,
    help: values.help === true,
    tty: process.stderr.isTTY === true,
  };
}

/** `*` matches any run of characters (slashes included); a pattern without `*` is a prefix. */
export function matchesAny(name: string, patterns: string[]): boolean {
  if (patterns.length === 0) return true;
  return patterns.some((pattern) => {
    if (!pattern.includes('*')) return name === pattern || name.startsWith(`${pattern.replace(/\/$/, '')}/`);
    const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
    return new RegExp(`^${escaped}$`).test(name);
  });
}
