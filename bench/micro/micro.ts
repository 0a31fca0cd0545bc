/**
 * Micro-benchmarks of hot functions with the `benchmark` package (design card): CRC32 (native,
 * the store's bodyCrc — JS slicing-by-4 below 192 B, native above — and a plain JS table), and
 * RocketMQ record encode/decode (src/store/record-codec.ts). Figures are calls per second
 * (benchmark.js: hz, ± relative margin of error); the latency columns summarise its samples
 * (mean time per call in each sample), not per-call latencies.
 */
import Benchmark from 'benchmark';
import { LatencyRecorder } from '../histogram.js';
import { num, str } from '../outcome.js';
import type { ScenarioOutcome, ScenarioSpec } from '../spec.js';
import { benchTopic, makeBody } from '../store-api.js';
import { crc32Js } from './crc32-js.js';

function runBenchmark(name: string, fn: () => void, spec: ScenarioSpec): Benchmark {
  // benchmark.js defaults (5 s per benchmark) scaled to the run's measurement window
  const short = spec.durationMs < 500;
  const bench = new Benchmark(name, fn, {
    maxTime: Math.max(0.05, spec.durationMs / 1000),
    minTime: short ? 0.005 : 0.05,
    minSamples: short ? 3 : 5,
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
    check: { ...check, passed: check.passed && bench.stats.sample.length >= 3 },
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
  const { bodyCrc } = await import('../../src/store/record-codec.js');
  const fns: Record<string, () => void> = {
    native: () => {
      sink ^= native.crc32(buf, 0, bytes);
    },
    store: () => {
      sink ^= bodyCrc(buf, 0, bytes);
    },
    js: () => {
      sink ^= crc32Js(buf, 0, bytes);
    },
  };
  const fn = fns[impl];
  if (fn === undefined) throw new Error(`${spec.name}: unknown CRC32 implementation ${impl}`);
  const bench = runBenchmark(spec.name, fn, spec);
  return toOutcome(bench, bytes, {
    passed: known && crc32Js(buf, 0, bytes) === check && bodyCrc(buf, 0, bytes) === (check & 0x7fffffff),
    description:
      'native, JS table and store bodyCrc (31-bit mask) agree on the benchmark buffer; IEEE check value 0xCBF43926',
    sink,
  });
}

export async function microRecord(spec: ScenarioSpec): Promise<ScenarioOutcome> {
  const op = str(spec, 'op');
  const bodyBytes = num(spec, 'bodyBytes');
  const codec = await import('../../src/store/record-codec.js');
  const host = { ip: codec.parseIpv4('127.0.0.1'), port: 10911 };
  const topic = Buffer.from(benchTopic);
  const body = makeBody(bodyBytes);
  const size = codec.recordSize(topic.length, bodyBytes, 0);
  // a 4 MiB scratch "segment": records are encoded at rotating positions, as appends would be
  const buffer = new ArrayBuffer(4 * 1024 * 1024);
  const buf = Buffer.from(buffer);
  const view = new DataView(buffer);
  const slots = Math.floor(buffer.byteLength / size);
  const fields = {
    queueId: 0,
    flag: 0,
    queueOffset: 0,
    physicalOffset: 0,
    sysFlag: 0,
    bornTimestamp: Date.now(),
    storeTimestamp: Date.now(),
    reconsumeTimes: 0,
    preparedTransactionOffset: 0,
  };
  const encodeAt = (slot: number) => {
    fields.physicalOffset = slot * size;
    fields.queueOffset = slot;
    codec.encodeRecord(buf, view, slot * size, size, fields, host, host, topic, body, bodyBytes, 0);
  };
  for (let slot = 0; slot < slots; slot++) encodeAt(slot);
  let slot = 0;
  let sink = 0;
  const fn =
    op === 'encode'
      ? () => {
          encodeAt(slot);
          slot = slot + 1 === slots ? 0 : slot + 1;
        }
      : () => {
          const r = new codec.StoredRecord(buffer, view, slot * size, slot * size, host);
          sink += r.body.length + r.topic.length;
          slot = slot + 1 === slots ? 0 : slot + 1;
        };
  const bench = runBenchmark(spec.name, fn, spec);
  const back = new codec.StoredRecord(buffer, view, size, size, host);
  return toOutcome(bench, bodyBytes, {
    passed: back.size === size && back.topic === benchTopic && Buffer.compare(back.body, body) === 0,
    description: `${op}: a record encoded by encodeRecord decodes (StoredRecord) to the same size, topic and body`,
    recordBytes: size,
    sink,
  });
}
