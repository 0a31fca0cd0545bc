/** tidemq: sequential zero-copy scan() and random get() over a prefilled commit log. */
import { clockOverheadNs, loopTiming, runSyncLoop } from '../measure.js';
import { fromLoop, num, syncMethod } from '../outcome.js';
import type { ScenarioOutcome, ScenarioSpec } from '../spec.js';
import { type BenchStore, benchTopic, makeBody, openStore, type StoredRecord } from '../store-api.js';

/** Messages scanned per scan() call. */
export const scanBatch = 256;

/** How many messages the read scenarios prefill (the peers prefill the same). */
export function prefillCount(spec: ScenarioSpec): number {
  return num(spec, 'messages');
}

async function prefill(spec: ScenarioSpec, dir: string): Promise<{ store: BenchStore; offsets: number[] }> {
  const store = await openStore(dir);
  const body = makeBody(num(spec, 'bodyBytes'));
  const count = prefillCount(spec);
  const offsets = new Array<number>(count);
  for (let i = 0; i < count; i++) offsets[i] = store.append({ topic: benchTopic, body }).physicalOffset;
  return { store, offsets };
}

/** A body is zero-copy when it is a view over the segment's mapping, not a copy in the JS heap. */
function isMappingView(m: StoredRecord, segmentBytes: number): boolean {
  return m.body.buffer.byteLength >= segmentBytes;
}

export async function tidemqScan(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const filled = await prefill(spec, dir);
  const { store, offsets } = filled;
  const segmentBytes = store.stats().segmentBytes;
  const start = offsets[0]!;
  let from = start;
  let checksum = 0;
  let wrongSize = 0;
  let copies = 0;
  let wraps = 0;
  const r = runSyncLoop({
    ...loopTiming(spec),
    maxCalls: Number.MAX_SAFE_INTEGER,
    latencyUnit: `scan() call of up to ${scanBatch} messages`,
    call: () => {
      let n = 0;
      let last: StoredRecord | undefined;
      for (const m of store.scan(from, scanBatch)) {
        checksum += m.body[m.body.length >> 1]!;
        if (m.body.length !== bodyBytes) wrongSize++;
        last = m;
        n++;
      }
      if (last === undefined) {
        from = start;
        wraps++;
        return 0;
      }
      if (!isMappingView(last, segmentBytes)) copies++;
      from = last.physicalOffset + last.size;
      return n;
    },
  });
  return fromLoop(
    r,
    bodyBytes,
    {
      passed: wrongSize === 0 && copies === 0 && r.ops > 0,
      description:
        'every scanned body had the written size, and bodies were views over the segment mapping (zero-copy)',
      wrongSize,
      copiedBodies: copies,
      wrapsToStart: wraps,
      checksum,
    },
    syncMethod(`one scan() of up to ${scanBatch}`),
    { prefilled: offsets.length, segmentBytes, clockOverheadNs: clockOverheadNs() },
  );
}

export async function tidemqGet(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const filled = await prefill(spec, dir);
  const { store, offsets } = filled;
  const segmentBytes = store.stats().segmentBytes;
  const order = randomOrder(offsets.length);
  let i = 0;
  let wrong = 0;
  let copies = 0;
  let checksum = 0;
  const r = runSyncLoop({
    ...loopTiming(spec),
    maxCalls: Number.MAX_SAFE_INTEGER,
    latencyUnit: 'get() call',
    call: () => {
      const offset = offsets[order[i]!]!;
      i = i + 1 === order.length ? 0 : i + 1;
      const m = store.get(offset);
      if (m === undefined || m.physicalOffset !== offset || m.body.length !== bodyBytes) wrong++;
      else {
        checksum += m.body[0]!;
        if ((i & 1023) === 0 && !isMappingView(m, segmentBytes)) copies++;
      }
      return 1;
    },
  });
  return fromLoop(
    r,
    bodyBytes,
    {
      passed: wrong === 0 && copies === 0,
      description:
        'every get() returned the record at the asked offset with the written body size; sampled bodies were views over the mapping',
      wrong,
      copiedBodies: copies,
      checksum,
    },
    syncMethod('one get() at a random offset'),
    { prefilled: offsets.length, segmentBytes, clockOverheadNs: clockOverheadNs() },
  );
}

/** A fixed-seed permutation of [0, n), so every run reads the same random order. */
export function randomOrder(n: number, seed = 0x9e3779b9): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let x = seed >>> 0;
  for (let i = n - 1; i > 0; i--) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const j = x % (i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}
