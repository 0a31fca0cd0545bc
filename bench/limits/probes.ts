/**
 * The machine's limits, measured by the addon's probes (src/native.ts):
 * - memcpy: records of tidemq's size copied into a warm mapping — the in-memory append ceiling;
 * - group commit: C threads write(2) records to a file and share fdatasync calls — the durable
 *   ceiling at the put scenario's concurrency.
 * Until the probes are built, these report "not available" and the ratios read "n/a".
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { LatencyRecorder } from '../histogram.js';
import { nowNs } from '../measure.js';
import { notAvailable, num } from '../outcome.js';
import type { ScenarioOutcome, ScenarioSpec } from '../spec.js';

type Native = typeof import('../../src/native.js');

async function loadNative(): Promise<Native['native']> {
  return (await import('../../src/native.js')).native;
}

/** Probe calls are sized to take about this long, so the window is checked often enough. */
const mappingBytes = 256 * 1024 ** 2;

export async function limitMemcpy(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const recordBytes = num(spec, 'recordBytes');
  const { MapFlags } = await import('../../src/native.js');
  const native = await loadNative();
  if (typeof native.probeMemcpy !== 'function' || typeof native.mapFile !== 'function') {
    return notAvailable('native.probeMemcpy is not in this build yet (lands from the native branch)');
  }
  const bytes = Math.min(mappingBytes, Math.max(recordBytes * 64, spec.maxBytes));
  const count = Math.floor(bytes / recordBytes);
  const mapping = native.mapFile(path.join(dir, 'probe-memcpy'), count * recordBytes, MapFlags.create);
  // warm-up: the first pass takes the page faults; it is excluded
  const warmEnd = nowNs() + spec.warmupMs * 1e6;
  do native.probeMemcpy(mapping, recordBytes, count);
  while (nowNs() < warmEnd);
  const recorder = new LatencyRecorder();
  let ops = 0;
  let elapsedNs = 0;
  let calls = 0;
  let shortCalls = 0;
  const end = nowNs() + spec.durationMs * 1e6;
  do {
    const r = native.probeMemcpy(mapping, recordBytes, count);
    if (r.ops !== count) shortCalls++;
    ops += r.ops;
    elapsedNs += r.elapsedNs;
    recorder.recordNsWithCount(r.elapsedNs / Math.max(1, r.ops), r.ops);
    calls++;
  } while (nowNs() < end);
  return {
    status: 'ok',
    ops,
    bytes: ops * bodyBytes,
    elapsedMs: elapsedNs / 1e6,
    latency: recorder.summary('record copy (mean within one probe call)'),
    check: {
      passed: shortCalls === 0 && ops > 0,
      description: `every probe call copied all ${count} records of ${recordBytes} B into the warm mapping`,
      probeCalls: calls,
      shortCalls,
    },
    method: 'native.probeMemcpy over a warm 256 MiB (or smaller) mapping; time from the probe itself',
    extra: {
      recordBytes,
      mappingBytes: count * recordBytes,
      recordMBPerSec: Math.round((ops * recordBytes) / (elapsedNs / 1e3)),
    },
  };
}

export async function limitGroupCommit(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const recordBytes = num(spec, 'recordBytes');
  const concurrency = num(spec, 'concurrency');
  const native = await loadNative();
  if (typeof native.probeGroupCommit !== 'function') {
    return notAvailable('native.probeGroupCommit is not in this build yet (lands from the native branch)');
  }
  const warmFile = path.join(dir, 'probe-group-commit-warmup');
  await native.probeGroupCommit(warmFile, concurrency, recordBytes, Math.max(1, spec.warmupMs));
  rmSync(warmFile, { force: true });
  const r = await native.probeGroupCommit(
    path.join(dir, 'probe-group-commit'),
    concurrency,
    recordBytes,
    spec.durationMs,
  );
  return {
    status: 'ok',
    ops: r.ops,
    bytes: r.ops * bodyBytes,
    elapsedMs: r.elapsedNs / 1e6,
    check: {
      passed: r.ops > 0 && r.syncs > 0 && r.syncs <= r.ops,
      description: `${concurrency} threads wrote records and waited on shared fdatasync calls`,
      syncs: r.syncs,
      writesPerSync: Math.round((r.ops / Math.max(1, r.syncs)) * 100) / 100,
    },
    method:
      'native.probeGroupCommit (C threads, write(2) + group-committed fdatasync); totals only, no per-write latency',
    extra: { recordBytes, concurrency },
  };
}
