/**
 * tidemq through its consume queues and key index (issue 3): read() by queue offset, dispatch
 * lag while appending at full speed, rebuild of the derived files, and key lookup latency.
 */
import { LatencyRecorder } from '../histogram.js';
import { clockOverheadNs, loopTiming, nowNs, runSyncLoop } from '../measure.js';
import { fromLoop, num, syncMethod } from '../outcome.js';
import type { ScenarioOutcome, ScenarioSpec } from '../spec.js';
import { type BenchStore, benchTopic, makeBody, openStore, type StoredRecord } from '../store-api.js';
import { randomOrder, scanBatch } from './read.js';

function isMappingView(m: StoredRecord, segmentBytes: number): boolean {
  return m.body.buffer.byteLength >= segmentBytes;
}

/** Appends `count` messages to queue 0 (with keys `key-<i>` when asked) and waits for dispatch. */
async function prefill(
  store: BenchStore,
  bodyBytes: number,
  count: number,
  withKeys: boolean,
): Promise<void> {
  const body = makeBody(bodyBytes);
  const plain = { topic: benchTopic, body };
  for (let i = 0; i < count; i++)
    store.append(withKeys ? { topic: benchTopic, body, keys: `key-${i}` } : plain);
  await store.waitForDispatch();
}

export async function tidemqReadQueue(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const count = num(spec, 'messages');
  const store = await openStore(dir);
  await prefill(store, bodyBytes, count, false);
  const segmentBytes = store.stats().segmentBytes;
  let offset = 0;
  let wrong = 0;
  let copies = 0;
  let checksum = 0;
  const r = runSyncLoop({
    ...loopTiming(spec),
    maxCalls: Number.MAX_SAFE_INTEGER,
    latencyUnit: `read() call of up to ${scanBatch} messages`,
    call: () => {
      const batch = store.read(benchTopic, 0, offset, scanBatch);
      for (let i = 0; i < batch.length; i++) {
        const m = batch[i]!;
        if (m.queueOffset !== offset + i || m.body.length !== bodyBytes) wrong++;
        checksum += m.body[m.body.length >> 1]!;
      }
      if (batch.length === 0) {
        offset = 0;
        return 0;
      }
      if (!isMappingView(batch[batch.length - 1]!, segmentBytes)) copies++;
      offset = batch.nextQueueOffset;
      return batch.length;
    },
  });
  return fromLoop(
    r,
    bodyBytes,
    {
      passed: wrong === 0 && copies === 0 && r.ops > 0,
      description:
        'read() returned consecutive queue offsets with the written body size, as views over the mapping',
      wrong,
      copiedBodies: copies,
      checksum,
    },
    syncMethod(`one read() of up to ${scanBatch}`),
    { prefilled: count, clockOverheadNs: clockOverheadNs() },
  );
}

/** Appends at full speed for the window, sampling dispatch lag every millisecond. */
export async function tidemqDispatch(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const store = await openStore(dir);
  const msg = { topic: benchTopic, body: makeBody(bodyBytes) };
  const lag = new LatencyRecorder();
  let appended = 0;
  const append = (deadline: number, record: boolean): number => {
    let n = 0;
    let next = nowNs();
    for (;;) {
      for (let i = 0; i < 256; i++) store.append(msg);
      n += 256;
      const now = nowNs();
      if (now >= next) {
        if (record) lag.recordNs(store.stats().dispatchLagMs * 1e6);
        next = now + 1e6;
      }
      if (now >= deadline) return n;
    }
  };
  // The JS thread appends without yielding; dispatch runs on the worker threads, and results
  // come back through the event loop, so yield briefly between 10 ms bursts.
  const burst = async (ms: number, record: boolean) => {
    const end = nowNs() + ms * 1e6;
    let n = 0;
    while (nowNs() < end) {
      n += append(Math.min(end, nowNs() + 10e6), record);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return n;
  };
  appended += await burst(spec.warmupMs, false);
  const before = store.stats();
  const t0 = nowNs();
  const measured = await burst(spec.durationMs, true);
  const elapsedNs = nowNs() - t0;
  const mid = store.stats();
  appended += measured;
  const drainStart = nowNs();
  await store.waitForDispatch();
  const drainMs = (nowNs() - drainStart) / 1e6;
  const after = store.stats();
  const dispatchedInWindow = mid.dispatchedPosition - before.dispatchedPosition;
  const queued = store.maxOffset(benchTopic, 0);
  return {
    status: 'ok',
    ops: measured,
    bytes: measured * bodyBytes,
    elapsedMs: elapsedNs / 1e6,
    latency: lag.summary('dispatch lag sample (age of the oldest undispatched record), every ms'),
    check: {
      passed:
        after.dispatchedPosition === after.wrotePosition && queued === appended + 0 && !after.dispatchError,
      description:
        'after the window, dispatch caught up to wrotePosition and the consume queue holds every appended message',
      appended,
      consumeQueueMaxOffset: queued,
      drainMsAfterWindow: Math.round(drainMs * 10) / 10,
    },
    method:
      'append() at full speed in 10 ms bursts (yielding between them); stats().dispatchLagMs sampled every ms into the histogram',
    extra: {
      dispatchedMBPerSecInWindow: Math.round(dispatchedInWindow / 1e6 / (elapsedNs / 1e9)),
      dispatchWorkers: after.dispatchWorkers,
    },
  };
}

/** Reopens a prefilled store with { rebuild: true } and times until dispatch has caught up. */
export async function tidemqRebuild(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const count = num(spec, 'messages');
  const first = await openStore(dir);
  await prefill(first, bodyBytes, count, true);
  await first.close();
  const t0 = nowNs();
  const store = await openStore(dir, { rebuild: true });
  await store.waitForDispatch();
  const ns = nowNs() - t0;
  const s = store.stats();
  const bytes = s.wrotePosition - s.minOffset;
  const queued = store.maxOffset(benchTopic, 0);
  const found = store.queryByKey(benchTopic, `key-${count - 1}`).length;
  await store.close();
  const totalUs = ns / 1000;
  return {
    status: 'ok',
    ops: count,
    bytes,
    elapsedMs: ns / 1e6,
    latency: {
      unit: 'open({ rebuild }) to dispatch caught up',
      count: 1,
      p50Us: totalUs,
      p99Us: totalUs,
      p999Us: totalUs,
      maxUs: totalUs,
      meanUs: totalUs,
    },
    check: {
      passed: queued === count && found === 1 && s.dispatchedPosition === s.wrotePosition,
      description:
        'after the rebuild the consume queue holds every message and the last key is found in the index',
      consumeQueueMaxOffset: queued,
      lastKeyFound: found,
    },
    method:
      'one open({ rebuild: true }) + waitForDispatch(); throughput = commit log bytes (records) / time; MB/s is of the commit log',
    extra: { commitLogBytes: bytes, dispatchWorkers: s.dispatchWorkers },
  };
}

export async function tidemqKeyLookup(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const count = num(spec, 'messages');
  const store = await openStore(dir);
  await prefill(store, bodyBytes, count, true);
  const order = randomOrder(count);
  let i = 0;
  let wrong = 0;
  const r = runSyncLoop({
    ...loopTiming(spec),
    maxCalls: Number.MAX_SAFE_INTEGER,
    latencyUnit: 'queryByKey() call',
    call: () => {
      const k = order[i]!;
      i = i + 1 === order.length ? 0 : i + 1;
      const found = store.queryByKey(benchTopic, `key-${k}`, { maxMessages: 4 });
      if (found.length !== 1 || found[0]!.queueOffset !== k) wrong++;
      return 1;
    },
  });
  return fromLoop(
    r,
    bodyBytes,
    {
      passed: wrong === 0,
      description: 'every random key lookup returned exactly its one message (queue offset = key number)',
      wrong,
    },
    syncMethod('one queryByKey() of a random key'),
    { prefilled: count, clockOverheadNs: clockOverheadNs() },
  );
}
