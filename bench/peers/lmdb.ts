/**
 * Peer: lmdb (lmdb-js), the fastest embedded key-value store a Node user would pick. Sequential
 * uint32 keys, raw binary values.
 *
 * - async: default options (overlappingSync on Linux: a put's promise resolves when its
 *   transaction is committed and visible; the flush to disk follows in the background). Puts are
 *   issued in batches of 64 per event turn, which lmdb-js commits as one transaction, with 4
 *   batches in flight.
 * - durable: overlappingSync off, so a put resolves only after its transaction is synced to disk;
 *   N putters each await their own put, and lmdb-js batches the waiting puts of an event turn
 *   into one transaction — the same group commit tidemq does.
 */
import path from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import { clockOverheadNs, loopTiming, runConcurrentLoop, runSyncLoop } from '../measure.js';
import { fromLoop, num, syncMethod } from '../outcome.js';
import { prefillCount, randomOrder, scanBatch } from '../scenarios/read.js';
import type { ScenarioOutcome, ScenarioSpec } from '../spec.js';
import { makeBody } from '../store-api.js';

type Db = RootDatabase<Buffer, number>;

function openDb(dir: string, durable: boolean): Db {
  return open<Buffer, number>(path.join(dir, 'lmdb'), {
    encoding: 'binary',
    keyEncoding: 'uint32',
    ...(durable ? { overlappingSync: false } : {}),
  });
}

function entryCount(db: Db): number {
  return (db.getStats() as { entryCount: number }).entryCount;
}

export async function lmdbAsync(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const batch = num(spec, 'batch');
  const pipeline = num(spec, 'pipeline');
  const db = openDb(dir, false);
  const body = makeBody(bodyBytes);
  let key = 0;
  const r = await runConcurrentLoop({
    warmupMs: spec.warmupMs,
    durationMs: spec.durationMs,
    concurrency: pipeline,
    opsPerCall: batch,
    latencyUnit: `put() to commit, for each of a batch of ${batch}`,
    maxCalls: Math.max(1, Math.floor(spec.maxBytes / (bodyBytes * batch))),
    call: async () => {
      let last: Promise<boolean> | undefined;
      for (let i = 0; i < batch; i++) last = db.put(key++, body);
      await last;
    },
  });
  await db.flushed;
  const count = entryCount(db);
  await db.close();
  return fromLoop(
    r,
    bodyBytes,
    {
      passed: count === key && key === r.totalOps,
      description: 'every put committed: the entry count equals the puts issued',
      entries: count,
      puts: key,
    },
    `${pipeline} batches of ${batch} puts in flight, each awaiting its commit; every batch timed`,
    { options: 'encoding binary, keyEncoding uint32, defaults (overlappingSync on)' },
  );
}

export async function lmdbDurable(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const concurrency = num(spec, 'concurrency');
  const db = openDb(dir, true);
  const body = makeBody(bodyBytes);
  let key = 0;
  const r = await runConcurrentLoop({
    warmupMs: spec.warmupMs,
    durationMs: spec.durationMs,
    concurrency,
    opsPerCall: 1,
    latencyUnit: 'put() call to durable commit',
    maxCalls: Math.max(1, Math.floor(spec.maxBytes / bodyBytes)),
    call: async () => {
      await db.put(key++, body);
    },
  });
  const count = entryCount(db);
  await db.close();
  return fromLoop(
    r,
    bodyBytes,
    {
      passed: count === key && key === r.totalOps,
      description: 'every awaited put committed with overlappingSync off (commit includes the sync)',
      entries: count,
      puts: key,
    },
    `${concurrency} putters, each awaiting its put() before the next; every call timed`,
    { options: 'encoding binary, keyEncoding uint32, overlappingSync false' },
  );
}

function prefill(spec: ScenarioSpec, dir: string): { db: Db; count: number } {
  const db = openDb(dir, false);
  const body = makeBody(num(spec, 'bodyBytes'));
  const count = prefillCount(spec);
  for (let start = 0; start < count; start += 10_000) {
    db.transactionSync(() => {
      for (let k = start; k < Math.min(count, start + 10_000); k++) db.putSync(k, body);
    });
  }
  return { db, count };
}

export async function lmdbScan(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const { db, count } = prefill(spec, dir);
  let from = 0;
  let wrong = 0;
  let checksum = 0;
  const r = runSyncLoop({
    ...loopTiming(spec),
    maxCalls: Number.MAX_SAFE_INTEGER,
    latencyUnit: `getRange() of up to ${scanBatch} entries`,
    call: () => {
      let n = 0;
      for (const { key, value } of db.getRange({ start: from, limit: scanBatch })) {
        if (value.length !== bodyBytes) wrong++;
        checksum += value[value.length >> 1]!;
        from = key + 1;
        n++;
      }
      if (n === 0) from = 0;
      return n;
    },
  });
  await db.close();
  return fromLoop(
    r,
    bodyBytes,
    {
      passed: wrong === 0 && r.ops > 0,
      description: 'every value read had the written size',
      wrong,
      checksum,
    },
    syncMethod(`one getRange() of up to ${scanBatch}`),
    { prefilled: count, clockOverheadNs: clockOverheadNs() },
  );
}

export async function lmdbGet(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const { db, count } = prefill(spec, dir);
  const order = randomOrder(count);
  let i = 0;
  let wrong = 0;
  let checksum = 0;
  const r = runSyncLoop({
    ...loopTiming(spec),
    maxCalls: Number.MAX_SAFE_INTEGER,
    latencyUnit: 'getBinaryFast() call',
    call: () => {
      const value = db.getBinaryFast(order[i]!);
      i = i + 1 === order.length ? 0 : i + 1;
      if (value === undefined || value.length !== bodyBytes) wrong++;
      else checksum += value[0]!;
      return 1;
    },
  });
  await db.close();
  return fromLoop(
    r,
    bodyBytes,
    { passed: wrong === 0, description: 'every random key was found with the written size', wrong, checksum },
    syncMethod('one getBinaryFast() at a random key'),
    { prefilled: count, clockOverheadNs: clockOverheadNs() },
  );
}
