/**
 * Broker durability: a journal in the commit log plus a periodic snapshot.
 *
 * Everything the broker must not forget goes through the store's commit log, so the store's
 * recovery (validate the tail, truncate what is torn) covers it:
 * - consumer changes (pop, ack, change of visibility, reset), consumer-group settings and the
 *   resolution of timers and transactions are journal records: topic `rmq_sys_tidemq_journal`, queue 0, tag = op, body =
 *   the record as JSON (shapes in consumer-state.ts). Two optional compact fields, read in
 *   either form: a pop's `r` [firstOffset, count, firstHandle] (a run of first deliveries instead
 *   of one `d` tuple each) and an ack's `r` [[firstOffset, count]…] beside an empty `o` list (a
 *   batch acked in order is one pair; a reader from before `r` sees no ack and redelivers, within
 *   at-least-once, rather than failing to open); older records have neither;
 * - timed messages are records of `rmq_sys_wheel_timer` (REAL_TOPIC, REAL_QID, TIMER_DELIVER_MS);
 * - transactional half messages are records of `RMQ_SYS_TRANS_HALF_TOPIC`.
 * A change is applied in memory in the same synchronous step as its append, and the caller is
 * answered only once the record is sealed (async flush: survives a process crash) or on disk
 * (sync flush). Records that depend on another (a DLQ move after the DLQ copy, a timer "fired"
 * after the real message, a commit after the real message) are appended after it, so the log
 * order alone guarantees that if the later record survived, so did the earlier one.
 *
 * Snapshot (`config/brokerState.json`): every snapshotIntervalMs and at close, the whole state
 * as of commit-log position P (the write position when the state was captured, a record
 * boundary). It is written only after the log is flushed past P (fdatasync), to a .tmp file
 * that is fsynced and renamed, so a crash leaves either the old snapshot or the new one and
 * the log always holds everything after P. Open = load the snapshot, then scan the commit log
 * from P and apply journal, timer and half records in log order.
 *
 * ```
 * { "version": 1, "position": P, "handleSeq": n,
 *   "consumers": { subscriber: { topic: { queueId: [next, [[offset, attempt, visibleAt, handle, group, priority]…]] } } },
 *   "timers": [[timerRecordPhysicalOffset, deliverAtMs]…],
 *   "transactions": [[halfRecordPhysicalOffset, checks]…],
 *   "groups": { group: { maxDeliveryAttempts?, retryBackoffMs?, fifo? } } }
 * ```
 * Retention must not delete log segments past the snapshot position; with a snapshot every
 * few seconds and retention measured in hours it does not (forced cleanup under disk pressure
 * could; the broker then starts from what is left).
 */
import { readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import path from 'node:path';
import type { ConsumerStateSnapshot, JournalRecord } from './consumer-state.js';
import type { GroupConfig } from './group-registry.js';

export const JOURNAL_TOPIC = 'rmq_sys_tidemq_journal';
export const TIMER_TOPIC = 'rmq_sys_wheel_timer';
export const HALF_TOPIC = 'RMQ_SYS_TRANS_HALF_TOPIC';

export interface BrokerSnapshot {
  version: 1;
  position: number;
  handleSeq: number;
  consumers: ConsumerStateSnapshot;
  timers: [number, number][];
  transactions: [number, number][];
  /** Configured consumer groups (absent in snapshots written before group settings existed). */
  groups?: Record<string, GroupConfig>;
}

/**
 * The record as JSON. The two records every batch writes — a pop of one run of first
 * deliveries, an ack of offset runs — are written out directly (the same text JSON.stringify
 * makes of them, property order aside, without walking the object generically); others go
 * through JSON.stringify.
 */
export function encodeJournal(rec: JournalRecord): string {
  if (rec.op === 'pop') {
    const r = rec.r;
    if (
      r !== undefined &&
      rec.d.length === 0 &&
      rec.p.length === 0 &&
      ints(rec.q, rec.n, rec.v, r[0], r[1], r[2])
    )
      return `{"op":"pop","s":${quoted(rec.s)},"t":${quoted(rec.t)},"q":${rec.q},"n":${rec.n},"v":${rec.v},"d":[],"p":[],"r":[${r[0]},${r[1]},${r[2]}]}`;
  } else if (rec.op === 'ack') {
    const runs = rec.r;
    if (runs !== undefined && rec.o !== undefined && rec.o.length === 0 && Number.isSafeInteger(rec.q)) {
      let text = `{"op":"ack","s":${quoted(rec.s)},"t":${quoted(rec.t)},"q":${rec.q},"o":[],"r":[`;
      for (let i = 0; i < runs.length; i++) {
        const [first, count] = runs[i]!;
        if (!Number.isSafeInteger(first) || !Number.isSafeInteger(count)) return JSON.stringify(rec);
        text += i === 0 ? `[${first},${count}]` : `,[${first},${count}]`;
      }
      return `${text}]}`;
    }
  }
  return JSON.stringify(rec);
}

/** Integers: they print the same in a template as in JSON (not NaN or ±Infinity; -0 as 0). */
function ints(a: number, b: number, c: number, d: number, e: number, f: number): boolean {
  return (
    Number.isSafeInteger(a) &&
    Number.isSafeInteger(b) &&
    Number.isSafeInteger(c) &&
    Number.isSafeInteger(d) &&
    Number.isSafeInteger(e) &&
    Number.isSafeInteger(f)
  );
}

/** JSON.stringify of a string; the last two are kept (a batch's subscriber and topic repeat). */
function quoted(text: string): string {
  if (text === lastQuoted[0]) return lastQuoted[1];
  if (text === lastQuoted[2]) return lastQuoted[3];
  const json = JSON.stringify(text);
  lastQuoted[2] = lastQuoted[0];
  lastQuoted[3] = lastQuoted[1];
  lastQuoted[0] = text;
  lastQuoted[1] = json;
  return json;
}

const lastQuoted: [string, string, string, string] = ['', '""', '', '""'];

export function decodeJournal(body: Buffer): JournalRecord {
  return JSON.parse(body.toString('utf8')) as JournalRecord;
}

export function snapshotFile(storeDir: string): string {
  return path.join(storeDir, 'config', 'brokerState.json');
}

export function readSnapshot(storeDir: string): BrokerSnapshot | undefined {
  let text: string;
  try {
    text = readFileSync(snapshotFile(storeDir), 'utf8');
  } catch {
    return undefined;
  }
  const snap = JSON.parse(text) as BrokerSnapshot;
  if (snap.version !== 1 || !Number.isSafeInteger(snap.position)) return undefined;
  return snap;
}

/**
 * Atomically replace the snapshot (tmp + fsync + rename + fsync of the directory). Asynchronous:
 * the fsyncs run on the thread pool, not on the event loop that delivers messages.
 */
export async function writeSnapshot(storeDir: string, text: string): Promise<void> {
  const file = snapshotFile(storeDir);
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  const dir = await open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
