/**
 * Micro-benchmarks of hot functions with the `benchmark` package (design card): CRC32 (native
 * vs a JS table), record encode/decode once the codec lands. Figures are calls per second
 * (benchmark.js: hz, ± relative margin of error); the latency columns summarise its samples
 * (mean time per call in each sample), not per-call latencies.
 */
import Benchmark from 'benchmark';
import { LatencyRecorder } from '../histogram.js';
import { notAvailable, num, str } from '../outcome.js';
import type { ScenarioOutcome, ScenarioSpec } from '../spec.js';
import { makeBody } from '../store-api.js';
import { crc32Js } from './crc32-js.js';

function runBenchmark(name: string, fn: () => void, spec: ScenarioSpec): Benchmark {
  const bench = new Benchmark(name, fn, {
    maxTime: Math.max(0.05, spec.durationMs / 1000),
    minSamples: 5,
    initCount: 1,
  });
  bench.run({ async: false });
  if (bench.error) throw bench.error;
  return bench;
}

function toOutcome(bench: Benchmark, bytesPerCall: number, check: ScenarioOutcome['check']): ScenarioOutcome {
  const recorder = new LatencyRecorder();
  for (const seconds of bench.stats.sample) recorder.recordNs(seconds * 1e9);
  const elapsedMs = bench.stats.sample.length * bench.stats.mean * 1000;
  // ops over elapsed reproduces benchmark.js's hz (1 / mean seconds per call)
  const ops = Math.round(bench.hz * (elapsedMs / 1000));
  return {
    status: 'ok',
    ops,
    bytes: ops * bytesPerCall,
    elapsedMs,
    latency: recorder.summary('benchmark.js sample: mean time per call'),
    check: { ...check, passed: check.passed && bench.stats.sample.length >= 5 },
    method: 'benchmark.js (hz = 1 / mean time per call over its samples)',
    extra: {
      hz: Math.round(bench.hz),
      rmePercent: Math.round(bench.stats.rme * 100) / 100,
      samples: bench.stats.sample.length,
    },
  };
}

export async function microCrc32(spec: ScenarioSpec): Promise<ScenarioOutcome> {
  const bytes = num(spec, 'bytes');
  const impl = str(spec, 'impl');
  const { native } = await import('../../src/native.js');
  const buf = makeBody(bytes);
  const check = native.crc32(buf, 0, bytes);
  const known =
    native.crc32(Buffer.from('123456789'), 0, 9) === 0xcbf43926 &&
    crc32Js(Buffer.from('123456789'), 0, 9) === 0xcbf43926;
  let sink = 0;
  const fn =
    impl === 'native'
      ? () => {
          sink ^= native.crc32(buf, 0, bytes);
        }
      : () => {
          sink ^= crc32Js(buf, 0, bytes);
        };
  const bench = runBenchmark(spec.name, fn, spec);
  return toOutcome(bench, bytes, {
    passed: known && crc32Js(buf, 0, bytes) === check,
    description: 'native and JS CRC32 agree on the benchmark buffer and give the IEEE check value 0xCBF43926',
    sink,
  });
}

export async function microRecord(spec: ScenarioSpec): Promise<ScenarioOutcome> {
  const op = str(spec, 'op');
  num(spec, 'bodyBytes');
  const specifier = new URL('../../src/store/record-codec.js', import.meta.url).href;
  try {
    await import(specifier);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      return notAvailable(`record ${op}: src/store/record-codec.ts has not landed yet`);
    }
    throw err;
  }
  return notAvailable(
    `record ${op}: record-codec.ts exists, but this micro-benchmark is not written against it yet`,
  );
}
