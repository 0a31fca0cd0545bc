/**
 * Peer: better-sqlite3 in WAL mode, one table `log(id INTEGER PRIMARY KEY, body BLOB)`.
 *
 * - synchronous=NORMAL: WAL commits are not fsynced (the async peer), transactions of 64 inserts.
 * - synchronous=FULL: every commit fsyncs the WAL (the durable peer). SQLite has one writer and
 *   no group commit, so N concurrent putters are given their best case: one transaction of N
 *   inserts per fsync, as if N waiting writers were committed together.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { clockOverheadNs, loopTiming, runSyncLoop } from '../measure.js';
import { fromLoop, num, str, syncMethod } from '../outcome.js';
import { prefillCount, randomOrder, scanBatch } from '../scenarios/read.js';
import type { ScenarioOutcome, ScenarioSpec } from '../spec.js';
import { makeBody } from '../store-api.js';

function openDb(dir: string, synchronous: string): Database.Database {
  const db = new Database(path.join(dir, 'peer.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.exec('CREATE TABLE IF NOT EXISTS log (id INTEGER PRIMARY KEY, body BLOB NOT NULL)');
  return db;
}

export async function sqliteWrite(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const batch = num(spec, 'batch');
  const synchronous = str(spec, 'synchronous');
  const db = openDb(dir, synchronous);
  const body = makeBody(bodyBytes);
  const insert = db.prepare('INSERT INTO log (body) VALUES (?)');
  const tx = db.transaction(() => {
    for (let i = 0; i < batch; i++) insert.run(body);
  });
  const r = runSyncLoop({
    ...loopTiming(spec),
    maxCalls: Math.max(1, Math.floor(spec.maxBytes / (bodyBytes * batch))),
    latencyUnit: `transaction of ${batch} inserts`,
    call: () => {
      tx();
      return batch;
    },
  });
  const rows = (db.prepare('SELECT count(*) AS n FROM log').get() as { n: number }).n;
  const mode = db.pragma('journal_mode', { simple: true });
  const sync = db.pragma('synchronous', { simple: true });
  db.close();
  // PRAGMA synchronous reads back 1 for NORMAL and 2 for FULL.
  const expectedSync = synchronous === 'FULL' ? 2 : 1;
  return fromLoop(
    r,
    bodyBytes,
    {
      passed: rows === r.totalOps && mode === 'wal' && sync === expectedSync,
      description: `row count equals inserts; journal_mode and synchronous read back as WAL and ${synchronous}`,
      rows,
      journalMode: String(mode),
      synchronous: Number(sync),
    },
    syncMethod(`one transaction of ${batch} inserts`),
    { clockOverheadNs: clockOverheadNs() },
  );
}

function prefill(spec: ScenarioSpec, dir: string): { db: Database.Database; count: number } {
  const db = openDb(dir, 'NORMAL');
  const body = makeBody(num(spec, 'bodyBytes'));
  const count = prefillCount(spec);
  const insert = db.prepare('INSERT INTO log (id, body) VALUES (?, ?)');
  db.transaction(() => {
    for (let id = 1; id <= count; id++) insert.run(id, body);
  })();
  return { db, count };
}

export async function sqliteScan(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const { db, count } = prefill(spec, dir);
  const select = db.prepare('SELECT id, body FROM log WHERE id > ? ORDER BY id LIMIT ?').raw(true);
  let from = 0;
  let wrong = 0;
  let checksum = 0;
  const r = runSyncLoop({
    ...loopTiming(spec),
    maxCalls: Number.MAX_SAFE_INTEGER,
    latencyUnit: `SELECT of up to ${scanBatch} rows`,
    call: () => {
      const rows = select.all(from, scanBatch) as [number, Buffer][];
      for (const [id, body] of rows) {
        if (body.length !== bodyBytes) wrong++;
        checksum += body[body.length >> 1]!;
        from = id;
      }
      if (rows.length === 0) from = 0;
      return rows.length;
    },
  });
  db.close();
  return fromLoop(
    r,
    bodyBytes,
    { passed: wrong === 0 && r.ops > 0, description: 'every row read had the written size', wrong, checksum },
    syncMethod(`one SELECT of up to ${scanBatch} rows`),
    { prefilled: count, clockOverheadNs: clockOverheadNs() },
  );
}

export async function sqliteGet(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const { db, count } = prefill(spec, dir);
  const select = db.prepare('SELECT body FROM log WHERE id = ?').pluck(true);
  const order = randomOrder(count);
  let i = 0;
  let wrong = 0;
  let checksum = 0;
  const r = runSyncLoop({
    ...loopTiming(spec),
    maxCalls: Number.MAX_SAFE_INTEGER,
    latencyUnit: 'SELECT by id',
    call: () => {
      const body = select.get(order[i]! + 1) as Buffer | undefined;
      i = i + 1 === order.length ? 0 : i + 1;
      if (body === undefined || body.length !== bodyBytes) wrong++;
      else checksum += body[0]!;
      return 1;
    },
  });
  db.close();
  return fromLoop(
    r,
    bodyBytes,
    { passed: wrong === 0, description: 'every random id was found with the written size', wrong, checksum },
    syncMethod('one SELECT at a random id'),
    { prefilled: count, clockOverheadNs: clockOverheadNs() },
  );
}
