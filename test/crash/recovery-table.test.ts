// Walks every row of the commit log recovery decision table (src/store/recovery.ts) and the
// derived-file rules (src/store/derived-recovery.ts): each case builds the on-disk situation the
// row describes, opens the store, and checks the rule chosen and the data that survives.
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tap from 'tap';

const t = tap;

import { MessageStore, type StoreOptions } from '../../src/index.js';
import { RECOVERY_RULES, SEGMENT_RULES } from '../../src/store/recovery.js';

const SEG = 64 * 1024;
const opts: StoreOptions = {
  segmentBytes: SEG,
  cqEntriesPerFile: 4096,
  indexHashSlots: 4096,
  indexMaxEntries: 8192,
  prefault: false,
};

function tempDir(t: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'tidemq-rtable-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Append `n` keyed messages and return their bodies in order. */
function fill(store: MessageStore, n: number, from = 0): string[] {
  const bodies: string[] = [];
  for (let i = from; i < from + n; i++) {
    const body = `message-${i}-${'x'.repeat(i % 200)}`;
    store.append({ topic: 'rt', queueId: i % 2, body, keys: `key-${i}` });
    bodies.push(body);
  }
  return bodies;
}

function bodies(store: MessageStore): string[] {
  return [...store.scan()].map((m) => m.body.toString());
}

/** Simulate a crash: release the lock the way a dead process would, keep the abort marker. */
async function crash(store: MessageStore): Promise<void> {
  await store.flush();
  await store.waitForDispatch();
  // close() would mark a clean end; write the abort marker back to look like a killed process
  const dir = store.dir;
  await store.close();
  writeFileSync(path.join(dir, 'abort'), '12345');
}

function segments(dir: string): string[] {
  return readdirSync(path.join(dir, 'commitlog'))
    .filter((n) => /^\d{20}$/.test(n))
    .sort();
}

t.test('recovery table: every rule has a case below', async (t) => {
  t.same(
    RECOVERY_RULES.map((r) => r.rule),
    ['R1-empty', 'R2-clean', 'R3-crash-checkpoint', 'R4-no-checkpoint', 'R5-clean-mark-bad'],
  );
  t.same(
    SEGMENT_RULES.map((r) => r.rule),
    ['S0', 'S1', 'S2', 'S3', 'S4'],
  );
});

t.test('recovery table R1-empty: a new directory opens empty', async (t) => {
  const dir = tempDir(t);
  const store = await MessageStore.open(dir, opts);
  t.equal(store.stats().recovery.rule, 'R1-empty');
  t.equal(store.stats().wrotePosition, 0);
  await store.close();
});

t.test('recovery table R2-clean: a clean close reopens without validation', async (t) => {
  const dir = tempDir(t);
  let store = await MessageStore.open(dir, opts);
  const written = fill(store, 500);
  await store.close();
  store = await MessageStore.open(dir, opts);
  const r = store.stats().recovery;
  t.equal(r.rule, 'R2-clean');
  t.equal(r.records, 0, 'nothing re-validated');
  t.equal(r.truncatedBytes, 0);
  t.same(bodies(store), written);
  t.equal(store.append({ topic: 'rt', body: 'next' }).queueOffset, 250, 'queue offsets continue');
  await store.close();
});

t.test('recovery table R3-crash-checkpoint: a crash validates from the flushed checkpoint', async (t) => {
  const dir = tempDir(t);
  let store = await MessageStore.open(dir, opts);
  const written = fill(store, 800);
  await crash(store);
  store = await MessageStore.open(dir, opts);
  const r = store.stats().recovery;
  t.equal(r.rule, 'R3-crash-checkpoint');
  t.equal(r.cleanShutdown, false);
  t.equal(r.truncatedBytes, 0);
  t.same(bodies(store), written);
  t.equal(store.read('rt', 1, 0, 1000).length, 400, 'consume queue intact after the crash');
  await store.close();
});

t.test('recovery table R3: a torn record after the flushed checkpoint is cut', async (t) => {
  const dir = tempDir(t);
  let store = await MessageStore.open(dir, opts);
  const written = fill(store, 100);
  await crash(store);
  store = await MessageStore.open(dir, opts);
  const end = store.stats().wrotePosition;
  const last = [...store.scan()].at(-1)!;
  await store.close();
  writeFileSync(path.join(dir, 'abort'), '1');
  // After the last flush the process was writing one more record when it died: a copy of the
  // last record placed at the end, with its offset field right but its body not matching its CRC.
  const segs = segments(dir);
  const file = path.join(dir, 'commitlog', segs[segs.length - 1]!);
  const bytes = readFileSync(file);
  const rec = Buffer.from(bytes.subarray(last.physicalOffset % SEG, (last.physicalOffset % SEG) + last.size));
  rec.writeUInt32BE(Math.floor(end / 2 ** 32), 28);
  rec.writeUInt32BE(end >>> 0, 32);
  rec[rec.length - 30] ^= 0xff; // inside the body (no properties on these records but KEYS: the tail is topic+props)
  rec[100] ^= 0xff;
  const fd = openSync(file, 'r+');
  writeSync(fd, rec, 0, rec.length, end % SEG);
  closeSync(fd);
  store = await MessageStore.open(dir, opts);
  const r = store.stats().recovery;
  t.equal(r.rule, 'R3-crash-checkpoint');
  t.equal(r.fromOffset, end, 'validation starts at the flushed checkpoint');
  t.equal(r.endOffset, end, 'cut at the torn record');
  t.equal(r.reason, 'crc');
  t.equal(r.truncatedBytes, rec.length);
  t.same(bodies(store), written);
  t.equal(store.get(end), undefined, 'the torn record is gone');
  await store.close();
});

t.test('recovery table R4-no-checkpoint: a lost checkpoint validates the whole log', async (t) => {
  const dir = tempDir(t);
  let store = await MessageStore.open(dir, opts);
  const written = fill(store, 600);
  await store.close();
  rmSync(path.join(dir, 'checkpoint'));
  store = await MessageStore.open(dir, opts);
  const r = store.stats().recovery;
  t.equal(r.rule, 'R4-no-checkpoint');
  t.equal(r.fromOffset, 0);
  t.equal(r.records, 600, 'every record validated');
  t.same(bodies(store), written);
  await store.close();
});

t.test(
  'recovery table R5-clean-mark-bad: a clean mark that does not match the log is not trusted',
  async (t) => {
    const dir = tempDir(t);
    let store = await MessageStore.open(dir, opts);
    fill(store, 50);
    await store.close();
    // After the clean close, garbage appears after the recorded end (a stray writer, a bad disk).
    store = await MessageStore.open(dir, opts);
    const end = store.stats().wrotePosition;
    await store.close();
    const segs = segments(dir);
    const fd = openSync(path.join(dir, 'commitlog', segs[segs.length - 1]!), 'r+');
    writeSync(fd, Buffer.from('garbage!garbage!'), 0, 16, end % SEG);
    closeSync(fd);
    store = await MessageStore.open(dir, opts);
    const r = store.stats().recovery;
    t.equal(r.rule, 'R5-clean-mark-bad');
    t.equal(r.endOffset, end, 'valid data still ends where it did');
    t.ok(r.reason === 'size' || r.reason === 'magic', `the garbage is reported (${r.reason})`);
    t.equal([...store.scan()].length, 50);
    const next = store.append({ topic: 'rt', body: 'after' });
    t.equal(next.physicalOffset, end, 'appends continue at the valid end');
    await store.close();
  },
);

t.test('segment rule S0: never-written segments after the active one are dropped first', async (t) => {
  // A crash leaves the segment prepared ahead on disk (full size, zeros), or a 0-byte file if it
  // died between create and preallocate. Neither may make the active segment a "middle" one.
  for (const trailer of ['prepared', 'empty file'] as const) {
    const dir = tempDir(t);
    let store = await MessageStore.open(dir, opts);
    const written = fill(store, 100);
    await crash(store);
    const segs = segments(dir);
    const last = path.join(dir, 'commitlog', segs[segs.length - 1]!);
    store = await MessageStore.open(dir, opts);
    const recs = [...store.scan()];
    await store.close();
    writeFileSync(path.join(dir, 'abort'), '1');
    const next = String(Number(segs[segs.length - 1]) + SEG).padStart(20, '0');
    writeFileSync(
      path.join(dir, 'commitlog', next),
      trailer === 'prepared' ? Buffer.alloc(SEG) : Buffer.alloc(0),
    );
    // and the active segment cut short in the middle of the 90th record (S2 must still apply)
    truncateSync(last, (recs[90]!.physicalOffset % SEG) + 20);
    store = await MessageStore.open(dir, opts);
    t.equal(store.stats().recovery.endOffset, recs[90]!.physicalOffset, `${trailer}: log ends at the cut`);
    t.same(bodies(store), written.slice(0, 90), `${trailer}: records before the cut kept`);
    store.append({ topic: 'rt', body: 'continues' });
    await store.close();
    store = await MessageStore.open(dir, opts);
    t.same(bodies(store), [...written.slice(0, 90), 'continues'], `${trailer}: appends continue at the cut`);
    await store.close();
  }
});

t.test('segment rule S1: a middle segment of the wrong size refuses to open', async (t) => {
  const dir = tempDir(t);
  let store = await MessageStore.open(dir, opts);
  fill(store, 1500); // several segments
  await store.close();
  const segs = segments(dir);
  t.ok(segs.length >= 3);
  truncateSync(path.join(dir, 'commitlog', segs[0]!), SEG / 2);
  await t.rejects(MessageStore.open(dir, opts), { code: 'CORRUPT_SEGMENT' });
  // the lock was released on failure: fixing the size lets it open
  truncateSync(path.join(dir, 'commitlog', segs[0]!), SEG);
  store = await MessageStore.open(dir, opts);
  await store.close();
});

t.test('segment rule S2: a short last segment keeps its valid prefix and is made whole', async (t) => {
  const dir = tempDir(t);
  let store = await MessageStore.open(dir, opts);
  const written = fill(store, 100);
  await crash(store);
  const segs = segments(dir);
  const last = path.join(dir, 'commitlog', segs[segs.length - 1]!);
  store = await MessageStore.open(dir, opts);
  const recs = [...store.scan()];
  await store.close();
  writeFileSync(path.join(dir, 'abort'), '1');
  // cut the file in the middle of the 90th record
  const cutAt = (recs[90]!.physicalOffset % SEG) + 20;
  truncateSync(last, cutAt);
  store = await MessageStore.open(dir, opts);
  t.equal(statSync(last).size, SEG, 'segment restored to full size');
  t.same(bodies(store), written.slice(0, 90));
  t.equal(store.stats().recovery.endOffset, recs[90]!.physicalOffset);
  store.append({ topic: 'rt', body: 'continues' });
  await store.close();
  store = await MessageStore.open(dir, opts);
  t.same(bodies(store), [...written.slice(0, 90), 'continues']);
  await store.close();
});

t.test('segment rule S3: a missing middle segment refuses to open', async (t) => {
  const dir = tempDir(t);
  const store = await MessageStore.open(dir, opts);
  fill(store, 1500);
  await store.close();
  const segs = segments(dir);
  rmSync(path.join(dir, 'commitlog', segs[1]!));
  await t.rejects(MessageStore.open(dir, opts), { code: 'CORRUPT_SEGMENT' });
});

t.test('segment rule S4: segments wholly after the valid end are deleted', async (t) => {
  const dir = tempDir(t);
  let store = await MessageStore.open(dir, opts);
  const written = fill(store, 1500);
  await crash(store);
  const segs = segments(dir);
  // corrupt the first record of the second segment: everything after it goes
  const second = path.join(dir, 'commitlog', segs[1]!);
  store = await MessageStore.open(dir, opts);
  const inSecond = [...store.scan()].filter((m) => m.physicalOffset >= SEG);
  await store.close();
  writeFileSync(path.join(dir, 'abort'), '1');
  rmSync(path.join(dir, 'checkpoint')); // validate from the start so the damage is reached
  const fd = openSync(second, 'r+');
  writeSync(fd, Buffer.from([0xde, 0xad, 0xbe, 0xef]), 0, 4, (inSecond[0]!.physicalOffset % SEG) + 4);
  closeSync(fd);
  store = await MessageStore.open(dir, opts);
  const r = store.stats().recovery;
  t.equal(r.reason, 'magic');
  t.equal(r.endOffset, inSecond[0]!.physicalOffset);
  const left = segments(dir);
  t.ok(left.length <= 2, `later segments deleted (${left.join(',')})`);
  t.same(bodies(store), written.slice(0, written.length - inSecond.length));
  // derived files agree with the cut log (rule D1)
  await store.waitForDispatch();
  const q0 = store.read('rt', 0, 0, 10_000).map((m) => m.body.toString());
  t.same(
    q0,
    bodies(store).filter((_, i) => i % 2 === 0),
  );
  t.equal(existsSync(path.join(dir, 'abort')), true, 'open while running');
  await store.close();
});
