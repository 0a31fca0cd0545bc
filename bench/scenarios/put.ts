/**
 * tidemq: put() in sync flush mode — each put resolves after its record is on disk, N putters
 * share flushes (group commit). The scenario sets TIDEMQ_FLUSH=sync itself (catalog.ts).
 */
import { runConcurrentLoop } from '../measure.js';
import { fromLoop, num } from '../outcome.js';
import type { ScenarioOutcome, ScenarioSpec } from '../spec.js';
import { benchTopic, type Message, makeBody, openStore } from '../store-api.js';

/** Every how many puts a putter checks flushedPosition against its record. */
const durabilitySampleEvery = 8;

export async function tidemqPut(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const concurrency = num(spec, 'concurrency');
  const store = await openStore(dir);

  const msg: Message = { topic: benchTopic, body: makeBody(bodyBytes) };
  const first = await store.put(msg);
  const before = store.stats();
  let sampled = 0;
  let notDurable = 0;
  let calls = 0;
  const r = await runConcurrentLoop({
    warmupMs: spec.warmupMs,
    durationMs: spec.durationMs,
    concurrency,
    opsPerCall: 1,
    latencyUnit: 'put() call to resolve',
    maxCalls: Math.max(1, Math.floor(spec.maxBytes / bodyBytes)),
    call: async () => {
      const result = await store.put(msg);
      if (++calls % durabilitySampleEvery === 0) {
        sampled++;
        if (store.stats().flushedPosition < result.physicalOffset + result.size) notDurable++;
      }
    },
  });
  const after = store.stats();
  const flushes = after.flushes - before.flushes;
  const passed = after.flushMode === 'sync' && flushes > 0 && notDurable === 0 && after.flushFailures === 0;
  return fromLoop(
    r,
    bodyBytes,
    {
      passed,
      description:
        'flush mode is sync, flushes (msync) happened, and every sampled put resolved only once flushedPosition had passed its record',
      flushMode: after.flushMode,
      flushes,
      putsPerFlush: Math.round((r.totalCalls / Math.max(1, flushes)) * 100) / 100,
      sampledPuts: sampled,
      resolvedBeforeDurable: notDurable,
    },
    `${concurrency} putters, each awaiting its put() before the next; every call timed`,
    { recordBytes: first.size, envSetByScenario: 'TIDEMQ_FLUSH=sync' },
  );
}
