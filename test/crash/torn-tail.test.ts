/**
 * Crash: torn and corrupted tails (STYLE.md §10, Kafka's testCorruptLog). A child appends
 * records and dies by SIGKILL without flushing, so the abort marker is left and the checkpoint
 * lies behind all of them; the test then damages the commit log on disk — cuts the last segment
 * short (mid-record and at a record boundary), flips a body byte (CRC), flips the magic, zeroes a
 * range across two records, writes garbage over a record and past the end — and reopens.
 *
 * Each case: the store opens without crashing, the recovery report says where the valid log ends
 * and why, get/scan return exactly the records before the damage (nothing after it), new appends
 * go at the cut, and all of that survives another reopen.
 */
import { closeSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { MessageStore } from '../../src/index.js';
import type { Message } from '../../src/store/types.js';
import { runChild } from '../helpers/child.js';
import { compiledTest, segmentPathFor, tempDir } from '../helpers/fs.js';
import { bodyBytes, sampleMessage } from '../helpers/messages.js';
import { readRecord } from '../helpers/record-reader.js';
import { type Rng, seededRng } from '../helpers/rng.js';
import { caught } from '../helpers/store.js';
import type { TestContext } from '../helpers/tap.js';

const SEGMENT_BYTES = 64 * 1024;
const WRITER = compiledTest('crash/writer-child');
const REASONS = ['crc', 'magic', 'size', 'length', 'offset'];

interface Written {
  index: number;
  physicalOffset: number;
  size: number;
}

interface WrittenStore {
  dir: string;
  seed: number;
  records: Written[];
}

async function writeStore(t: TestContext, rng: Rng, end: 'kill' | 'close' = 'kill'): Promise<WrittenStore> {
  const dir = tempDir(t, 'tidemq-torn-');
  const seed = rng.int(0x7fffffff);
  const config = {
    dir,
    segmentBytes: SEGMENT_BYTES,
    count: 100,
    seed,
    minInLastSegment: 12,
    minFreeInLastSegment: 4096,
    end,
  };
  const result = await runChild(WRITER, [JSON.stringify(config)]);
  if (end === 'close') t.equal(result.code, 0, `writer closed the store (stderr: ${result.stderr})`);
  else t.equal(result.signal, 'SIGKILL', `writer died by SIGKILL (stderr: ${result.stderr})`);
  const records: Written[] = [];
  for (const line of result.stdout.split('\n')) {
    const match = /^rec (\d+) (\d+) (\d+)$/.exec(line);
    if (match)
      records.push({ index: Number(match[1]), physicalOffset: Number(match[2]), size: Number(match[3]) });
  }
  t.ok(records.length >= 100, `writer wrote ${records.length} records`);
  return { dir, seed, records };
}

const segmentStart = (offset: number): number => offset - (offset % SEGMENT_BYTES);
const fileOf = (dir: string, offset: number): string => segmentPathFor(dir, offset, SEGMENT_BYTES);

/** A record of the last segment with at least `after` records following it in that segment. */
function victimInLastSegment(records: Written[], rng: Rng, after = 3): number {
  const last = segmentStart(records.at(-1)!.physicalOffset);
  const first = records.findIndex((r) => r.physicalOffset >= last);
  return first + rng.int(records.length - after - first);
}

function overwrite(file: string, position: number, bytes: Uint8Array): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, position);
  } finally {
    closeSync(fd);
  }
}

function xorByte(file: string, position: number): void {
  const current = readFileSync(file).subarray(position, position + 1);
  overwrite(file, position, Buffer.from([current[0]! ^ 0xff]));
}

/** Position of record k's body within its segment file, read from the bytes on disk. */
function bodyPosition(dir: string, record: Written): { file: string; position: number; length: number } {
  const file = fileOf(dir, record.physicalOffset);
  const raw = readRecord(readFileSync(file), record.physicalOffset - segmentStart(record.physicalOffset));
  if (!raw) throw new Error(`no record at ${record.physicalOffset}`);
  return { file, position: raw.bodyPosition, length: raw.body.length };
}

const afterRecovery = (i: number): Message => ({
  topic: 'after-recovery',
  queueId: 0,
  body: `new record ${i}`,
  keys: `after-${i}`,
});

/**
 * Opens the damaged store and checks that exactly records [0, keep) are there, then appends two
 * new records at the cut and checks everything again after a clean reopen.
 */
async function expectLogCutAt(
  t: TestContext,
  written: WrittenStore,
  keep: number,
  expect: { reasons?: string[]; cut: boolean },
): Promise<void> {
  const { dir, seed, records } = written;
  const cutAt =
    keep < records.length
      ? records[keep]!.physicalOffset
      : records.at(-1)!.physicalOffset + records.at(-1)!.size;
  let store = await MessageStore.open(dir, { segmentBytes: SEGMENT_BYTES });
  try {
    const recovery = store.stats().recovery;
    t.comment(`recovery: ${JSON.stringify(recovery)}`);
    t.equal(recovery.cleanShutdown, false, 'recovery knows the last run crashed');
    t.equal(recovery.endOffset, cutAt, 'recovery ends the log where the damage starts');
    if (expect.cut) {
      t.ok(recovery.truncatedBytes > 0, 'recovery reports bytes cut');
      t.ok(REASONS.includes(String(recovery.reason)), `recovery gives a reason (${recovery.reason})`);
      if (expect.reasons)
        t.ok(expect.reasons.includes(String(recovery.reason)), `reason is ${expect.reasons.join(' or ')}`);
    }
    t.ok(recovery.fromOffset <= cutAt, 'validation started at or before the damage');
    checkExactly(t, store, written, keep, []);
    t.equal(store.stats().wrotePosition, cutAt, 'wrotePosition is at the cut');

    const added: Written[] = [];
    for (let i = 0; i < 2; i++) {
      const r = store.append(afterRecovery(i));
      added.push({ index: -1 - i, physicalOffset: r.physicalOffset, size: r.size });
      t.equal(r.queueOffset, i, `new append ${i}: its queue starts at 0`);
    }
    t.equal(added[0]!.physicalOffset, cutAt, 'the first new append goes exactly at the cut');
    const queueOf = sampleMessage(seed, 0);
    const again = store.append(queueOf);
    const expectedQueueOffset = records.slice(0, keep).filter((_, i) => {
      const m = sampleMessage(seed, i);
      return m.topic === queueOf.topic && m.queueId === queueOf.queueId;
    }).length;
    t.equal(again.queueOffset, expectedQueueOffset, 'queue offsets continue from the records kept');
    added.push({ index: 0, physicalOffset: again.physicalOffset, size: again.size });
    await store.flush();
    await store.close();

    store = await MessageStore.open(dir, { segmentBytes: SEGMENT_BYTES });
    t.equal(store.stats().recovery.cleanShutdown, true, 'the reopen after close is clean');
    checkExactly(t, store, written, keep, added);
  } finally {
    await store.close();
  }
}

/** Scan and get show records [0, keep) of the written store, then `added`, and nothing else. */
function checkExactly(
  t: TestContext,
  store: MessageStore,
  written: WrittenStore,
  keep: number,
  added: Written[],
): void {
  const { seed, records } = written;
  const problems: string[] = [];
  const scanned = [...store.scan()];
  const expected = [...records.slice(0, keep), ...added];
  if (scanned.length !== expected.length)
    problems.push(`scan returned ${scanned.length} records, expected ${expected.length}`);
  for (let i = 0; i < Math.min(scanned.length, expected.length); i++) {
    const m = scanned[i]!;
    const e = expected[i]!;
    if (m.physicalOffset !== e.physicalOffset)
      problems.push(`scan[${i}] at ${m.physicalOffset}, expected ${e.physicalOffset}`);
    const body =
      e.index >= 0 ? bodyBytes(sampleMessage(seed, e.index)) : Buffer.from(`new record ${-1 - e.index}`);
    if (!body.equals(m.body)) problems.push(`scan[${i}] at ${m.physicalOffset}: body differs`);
  }
  for (const record of records.slice(keep)) {
    const got = store.get(record.physicalOffset);
    const replaced = added.find((a) => a.physicalOffset === record.physicalOffset);
    if (got && !replaced)
      problems.push(
        `get(${record.physicalOffset}) returned record ${record.index}, which lies after the damage`,
      );
  }
  for (const record of records.slice(0, keep)) {
    const got = store.get(record.physicalOffset);
    if (!got || !bodyBytes(sampleMessage(seed, record.index)).equals(got.body)) {
      problems.push(
        `get(${record.physicalOffset}) lost record ${record.index}, which lies before the damage`,
      );
    }
  }
  t.same(problems.slice(0, 20), [], `exactly ${keep} old and ${added.length} new records are readable`);
}

t.test('torn tail: the last segment cut short in the middle of a record', async (t) => {
  const rng = seededRng(t, 'torn tail truncate mid-record');
  const written = await writeStore(t, rng);
  const k = victimInLastSegment(written.records, rng);
  const victim = written.records[k]!;
  const cut = victim.physicalOffset - segmentStart(victim.physicalOffset) + 1 + rng.int(victim.size - 1);
  t.comment(`cutting the last segment to ${cut} bytes, inside record ${k}`);
  truncateSync(fileOf(written.dir, victim.physicalOffset), cut);
  await expectLogCutAt(t, written, k, { cut: true });
});

t.test('torn tail: the last segment cut short at a record boundary', async (t) => {
  const rng = seededRng(t, 'torn tail truncate at boundary');
  const written = await writeStore(t, rng);
  const k = victimInLastSegment(written.records, rng);
  const victim = written.records[k]!;
  truncateSync(
    fileOf(written.dir, victim.physicalOffset),
    victim.physicalOffset - segmentStart(victim.physicalOffset),
  );
  await expectLogCutAt(t, written, k, { cut: false });
});

t.test('torn tail: a flipped body byte fails the CRC and cuts the log there', async (t) => {
  const rng = seededRng(t, 'torn tail body flip');
  const written = await writeStore(t, rng);
  const k = victimInLastSegment(written.records, rng);
  const body = bodyPosition(written.dir, written.records[k]!);
  xorByte(body.file, body.position + rng.int(body.length));
  await expectLogCutAt(t, written, k, { cut: true, reasons: ['crc'] });
});

t.test('torn tail: a flipped magic code cuts the log there', async (t) => {
  const rng = seededRng(t, 'torn tail magic flip');
  const written = await writeStore(t, rng);
  const k = victimInLastSegment(written.records, rng);
  const victim = written.records[k]!;
  xorByte(
    fileOf(written.dir, victim.physicalOffset),
    victim.physicalOffset - segmentStart(victim.physicalOffset) + 4,
  );
  await expectLogCutAt(t, written, k, { cut: true, reasons: ['magic'] });
});

t.test('torn tail: a zeroed range from one record into the next cuts the log at the first', async (t) => {
  const rng = seededRng(t, 'torn tail zero range');
  const written = await writeStore(t, rng);
  const k = victimInLastSegment(written.records, rng);
  const next = written.records[k + 1]!;
  const body = bodyPosition(written.dir, written.records[k]!);
  const from = body.position + 1 + rng.int(body.length - 1);
  const to = next.physicalOffset - segmentStart(next.physicalOffset) + 8;
  t.comment(`zeroing [${from}, ${to}) of the last segment`);
  overwrite(body.file, from, Buffer.alloc(to - from));
  await expectLogCutAt(t, written, k, { cut: true, reasons: ['crc', 'length'] });
});

t.test('torn tail: garbage over a record cuts the log there', async (t) => {
  const rng = seededRng(t, 'torn tail garbage');
  const written = await writeStore(t, rng);
  const k = victimInLastSegment(written.records, rng);
  const victim = written.records[k]!;
  const garbage = rng.nonZeroBytes(victim.size + 200);
  overwrite(
    fileOf(written.dir, victim.physicalOffset),
    victim.physicalOffset - segmentStart(victim.physicalOffset),
    garbage,
  );
  await expectLogCutAt(t, written, k, { cut: true });
});

t.test('torn tail: garbage past the last record is cut and every record kept', async (t) => {
  const rng = seededRng(t, 'torn tail garbage past end');
  const written = await writeStore(t, rng);
  const last = written.records.at(-1)!;
  const end = last.physicalOffset + last.size;
  overwrite(fileOf(written.dir, last.physicalOffset), end - segmentStart(end), rng.nonZeroBytes(512));
  await expectLogCutAt(t, written, written.records.length, { cut: true });
});

t.test('torn tail: damage in an earlier segment past the checkpoint drops every later segment', async (t) => {
  const rng = seededRng(t, 'torn tail earlier segment');
  const written = await writeStore(t, rng);
  const firstSegmentRecords = written.records.filter((r) => r.physicalOffset < SEGMENT_BYTES).length;
  const k = 1 + rng.int(firstSegmentRecords - 2);
  const body = bodyPosition(written.dir, written.records[k]!);
  xorByte(body.file, body.position + rng.int(body.length));
  t.comment(`corrupting record ${k} of ${written.records.length}, in the first segment`);
  await expectLogCutAt(t, written, k, { cut: true, reasons: ['crc'] });
});

t.test('torn tail: records cut off stay gone after new appends and another crash', async (t) => {
  // If recovery only moves the write position back, the old records past the cut are still in
  // the file with valid CRCs and offsets. Re-append the very same message at the cut (same
  // size, so it ends exactly where the stale record k+1 starts) and crash again: a recovery
  // scan must not pick the stale records up.
  const rng = seededRng(t, 'torn tail stale records');
  const written = await writeStore(t, rng);
  const { dir, seed, records } = written;
  const k = victimInLastSegment(records, rng);
  const victim = records[k]!;
  xorByte(
    fileOf(dir, victim.physicalOffset),
    victim.physicalOffset - segmentStart(victim.physicalOffset) + 4,
  );

  let store = await MessageStore.open(dir, { segmentBytes: SEGMENT_BYTES });
  t.equal(store.stats().recovery.endOffset, victim.physicalOffset);
  const again = store.append(sampleMessage(seed, k));
  t.equal(again.physicalOffset, victim.physicalOffset, 'the same message goes at the cut');
  t.equal(again.size, victim.size, 'and has the same size, ending where stale record k+1 starts');
  await store.flush();
  await store.close();

  for (const shutdown of ['clean', 'crashed'] as const) {
    if (shutdown === 'crashed') writeFileSync(path.join(dir, 'abort'), '');
    store = await MessageStore.open(dir, { segmentBytes: SEGMENT_BYTES });
    try {
      t.equal(store.stats().recovery.cleanShutdown, shutdown === 'clean', `${shutdown} reopen`);
      const scanned = [...store.scan()];
      t.equal(
        scanned.length,
        k + 1,
        `${shutdown} reopen: records 0..${k - 1} and the re-appended one, no stale record`,
      );
      t.equal(scanned.at(-1)?.physicalOffset, victim.physicalOffset);
      for (const stale of records.slice(k + 1)) {
        t.equal(
          store.get(stale.physicalOffset),
          undefined,
          `${shutdown} reopen: stale record ${stale.index} is not returned`,
        );
      }
      t.equal(
        store.stats().wrotePosition,
        victim.physicalOffset + victim.size,
        `${shutdown} reopen: wrotePosition`,
      );
    } finally {
      await store.close();
    }
  }
});

t.test('torn tail: a crash with the abort marker removed still catches a corrupt tail', async (t) => {
  // The abort marker can be lost (a tool cleaning the directory, a copy without it); the data
  // past the checkpoint was never flushed, so it must still be validated.
  const rng = seededRng(t, 'torn tail no abort marker');
  const written = await writeStore(t, rng);
  const k = victimInLastSegment(written.records, rng);
  const body = bodyPosition(written.dir, written.records[k]!);
  xorByte(body.file, body.position + rng.int(body.length));
  rmSync(path.join(written.dir, 'abort'));
  const store = await MessageStore.open(written.dir, { segmentBytes: SEGMENT_BYTES });
  try {
    t.comment(`recovery: ${JSON.stringify(store.stats().recovery)}`);
    checkExactly(t, store, written, k, []);
    t.equal(
      store.stats().wrotePosition,
      written.records[k]!.physicalOffset,
      'appends continue at the damage',
    );
  } finally {
    await store.close();
  }
});

t.test('torn tail: damage after a clean close (what the store promises)', async (t) => {
  // After a clean close the checkpoint covers the whole log and recovery is meant to be instant,
  // so the store does not promise to re-validate bytes changed on disk afterwards. What it must
  // still do: open without crashing, and serve the records before the damage.
  const rng = seededRng(t, 'torn tail after clean close');
  const written = await writeStore(t, rng, 'close');
  const k = victimInLastSegment(written.records, rng);
  const body = bodyPosition(written.dir, written.records[k]!);
  xorByte(body.file, body.position + rng.int(body.length));
  const store = await MessageStore.open(written.dir, { segmentBytes: SEGMENT_BYTES });
  try {
    const recovery = store.stats().recovery;
    t.equal(recovery.cleanShutdown, true);
    t.comment(`recovery after clean close: ${JSON.stringify(recovery)}`);
    const problems: string[] = [];
    for (const record of written.records.slice(0, k)) {
      const got = store.get(record.physicalOffset);
      if (!got || !bodyBytes(sampleMessage(written.seed, record.index)).equals(got.body)) {
        problems.push(`record ${record.index} lost`);
      }
    }
    t.same(problems, [], 'records before the damage are served');
    const damaged = await caught(() => store.get(written.records[k]!.physicalOffset));
    t.comment(
      `get(damaged record) after a clean close: ${damaged ? `throws ${String(damaged)}` : store.get(written.records[k]!.physicalOffset) ? 'returns it (no CRC check on read)' : 'undefined'}`,
    );
  } finally {
    await store.close();
  }
});
