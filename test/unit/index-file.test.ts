// Index file format (RocketMQ's IndexFile): 40-byte header, hash slots holding the newest entry
// number, 20-byte entries chained through prevIndex, keys hashed as |String.hashCode|, lookups
// newest first within a time range, a file that reports full, RocketMQ's default geometry.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import {
  INDEX_ENTRY_BYTES,
  INDEX_HEADER_BYTES,
  IndexFile,
  indexFileBytes,
  indexKeyHash,
  listIndexFiles,
} from '../../src/store/index-file.js';
import { javaHashCode, readInt64, writeInt64 } from '../../src/store/record-codec.js';
import { cachedBytes, pageSize, skipWithoutReadahead, tempDir } from '../helpers/native-env.js';
import { Rng } from '../helpers/store-env.js';

const geometry = { slots: 16, entries: 64 };

t.test('index-file: header, slots and chained entries are laid out as RocketMQ does', async (t) => {
  const dir = path.join(tempDir(t, 'tidemq-index-'), 'index');
  const base = Date.UTC(2026, 0, 1);
  const idx = IndexFile.create(dir, base, geometry);
  t.equal(path.basename(idx.filePath).length, 17, 'named yyyyMMddHHmmssSSS');
  t.same(listIndexFiles(path.dirname(dir)), [idx.filePath]);
  t.equal(idx.indexCount, 1, 'entries are numbered from 1');
  // two keys in the same slot: "Aa" and "BB" share a hash code
  t.equal(javaHashCode('Aa'), javaHashCode('BB'));
  t.ok(idx.put('Aa', 1000, base + 1500));
  t.ok(idx.put('BB', 2000, base + 4200));
  const slotOf = (k: string) => indexKeyHash(k) % geometry.slots;
  let other = 'other';
  while (slotOf(other) === slotOf('Aa')) other += '!';
  t.ok(idx.put(other, 3000, base + 9000));
  await idx.flush();
  const bytes = readFileSync(idx.filePath);
  t.equal(bytes.length, indexFileBytes(geometry), 'size = 40 + slots×4 + entries×20');
  t.equal(Number(bytes.readBigInt64BE(0)), base + 1500, 'beginTimestamp');
  t.equal(Number(bytes.readBigInt64BE(8)), base + 9000, 'endTimestamp');
  t.equal(Number(bytes.readBigInt64BE(16)), 1000, 'beginPhyOffset');
  t.equal(Number(bytes.readBigInt64BE(24)), 3000, 'endPhyOffset');
  t.equal(bytes.readInt32BE(32), 2, 'hashSlotCount: two slots in use');
  t.equal(bytes.readInt32BE(36), 4, 'indexCount: next entry number');
  const slot = slotOf('Aa');
  t.equal(bytes.readInt32BE(INDEX_HEADER_BYTES + slot * 4), 2, 'the slot holds the newest entry (BB = #2)');
  const entry = (n: number) => {
    const p = INDEX_HEADER_BYTES + geometry.slots * 4 + n * INDEX_ENTRY_BYTES;
    return {
      hash: bytes.readInt32BE(p),
      phy: Number(bytes.readBigInt64BE(p + 4)),
      timeDiff: bytes.readInt32BE(p + 12),
      prev: bytes.readInt32BE(p + 16),
    };
  };
  t.same(entry(1), { hash: indexKeyHash('Aa'), phy: 1000, timeDiff: 0, prev: 0 });
  t.same(
    entry(2),
    { hash: indexKeyHash('BB'), phy: 2000, timeDiff: 2, prev: 1 },
    'chained to #1, seconds since begin',
  );
  t.equal(entry(3).timeDiff, 7);
  // lookup returns both hash matches (the caller compares real keys), newest first
  const found: number[] = [];
  idx.lookup('Aa', 10, 0, Number.MAX_SAFE_INTEGER, found);
  t.same(found, [2000, 1000]);
  const ranged: number[] = [];
  idx.lookup('Aa', 10, base + 3000, base + 5000, ranged);
  t.same(ranged, [2000], 'time range filters entries');
  const none: number[] = [];
  idx.lookup('missing-key', 10, 0, Number.MAX_SAFE_INTEGER, none);
  t.same(none, []);
});

t.test('index-file: |hashCode| keys, Integer.MIN_VALUE maps to 0', async (t) => {
  t.equal(indexKeyHash('abc'), Math.abs(javaHashCode('abc')));
  // "polygenelubricants" hashes to Integer.MIN_VALUE in Java
  t.equal(javaHashCode('polygenelubricants'), -2147483648);
  t.equal(indexKeyHash('polygenelubricants'), 0);
  t.ok(indexKeyHash('negative-hash-key?') >= 0);
});

t.test('index-file: a full file refuses more entries and reopens with its contents', async (t) => {
  const dir = path.join(tempDir(t, 'tidemq-index-'), 'index');
  const idx = IndexFile.create(dir, Date.now(), geometry);
  let accepted = 0;
  while (idx.put(`k${accepted}`, accepted * 10, Date.now())) accepted++;
  t.equal(accepted, geometry.entries - 1, 'entries 1..entries-1 (entry 0 is never used)');
  t.ok(idx.full);
  await idx.flush();
  const again = IndexFile.open(idx.filePath, geometry, true)!;
  const found: number[] = [];
  again.lookup('k7', 5, 0, Number.MAX_SAFE_INTEGER, found);
  t.ok(found.includes(70));
});

t.test("index-file: RocketMQ's default geometry is recognised by size", async (t) => {
  t.equal(indexFileBytes({ slots: 5_000_000, entries: 20_000_000 }), 420_000_040);
  t.equal(indexFileBytes({ slots: 1_000_000, entries: 4_000_000 }), 84_000_040, "tidemq's default");
});

/** putHash as it was written one key at a time (Math.abs, float %), kept here as the reference. */
function referencePut(
  v: DataView,
  g: { slots: number; entries: number },
  javaHash: number,
  phy: number,
  ts: number,
): boolean {
  const count = Math.max(1, v.getInt32(36, false));
  if (count >= g.entries) return false;
  const keyHash = javaHash === -2147483648 ? 0 : Math.abs(javaHash);
  const slotPos = INDEX_HEADER_BYTES + (keyHash % g.slots) * 4;
  let prev = v.getInt32(slotPos, false);
  if (prev <= 0 || prev > count) prev = 0;
  let begin = readInt64(v, 0);
  if (count <= 1) {
    begin = ts;
    writeInt64(v, 0, ts);
    writeInt64(v, 16, phy);
  }
  let timeDiff = begin > 0 ? Math.floor((ts - begin) / 1000) : 0;
  if (timeDiff < 0) timeDiff = 0;
  if (timeDiff > 0x7fffffff) timeDiff = 0x7fffffff;
  const entryPos = INDEX_HEADER_BYTES + g.slots * 4 + count * INDEX_ENTRY_BYTES;
  v.setInt32(entryPos, keyHash, false);
  writeInt64(v, entryPos + 4, phy);
  v.setInt32(entryPos + 12, timeDiff, false);
  v.setInt32(entryPos + 16, prev, false);
  v.setInt32(slotPos, count, false);
  if (prev === 0) v.setInt32(32, v.getInt32(32, false) + 1, false);
  v.setInt32(36, count + 1, false);
  writeInt64(v, 8, ts);
  writeInt64(v, 24, phy);
  return true;
}

// The dispatcher adds a batch's keys in one putHashes call: for random hashes (MIN_VALUE,
// negative, colliding), offsets past 2^32 and times going back and forth, in random chunks until
// the file is full, the file's bytes equal the one-key-at-a-time reference's.
t.test('index-file: putHashes writes exactly what putting each key alone writes', async (t) => {
  const rng = new Rng(t, 'index-file-put-hashes');
  const dir = path.join(tempDir(t, 'tidemq-index-'), 'index');
  for (let round = 0; round < 20; round++) {
    const g = { slots: 1 + rng.int(40), entries: 2 + rng.int(200) };
    const idx = IndexFile.create(dir, Date.UTC(2026, 0, 1) + round, g);
    const model = new DataView(new ArrayBuffer(indexFileBytes(g)));
    model.setInt32(36, 1, false);
    const n = g.entries + rng.int(20);
    const hashes = new Int32Array(n);
    const phys = new Float64Array(n);
    const times = new Float64Array(n);
    let phy = rng.chance(0.5) ? 0 : 2 ** 32 - 500;
    let ts = 1_700_000_000_000 + rng.int(1e6);
    for (let i = 0; i < n; i++) {
      hashes[i] = rng.pick([-2147483648, 2147483647, -1, 0, 2112, (rng.int(2 ** 32) - 2 ** 31) | 0]);
      phy += 1 + rng.int(300);
      ts += rng.int(3000) - 500;
      phys[i] = phy;
      times[i] = ts;
    }
    let done = 0;
    let wantDone = 0;
    while (wantDone < n && referencePut(model, g, hashes[wantDone]!, phys[wantDone]!, times[wantDone]!))
      wantDone++;
    while (done < n) {
      const added = idx.putHashes(hashes, phys, times, done, Math.min(n, done + 1 + rng.int(30)));
      if (added === 0) break;
      done += added;
    }
    t.equal(done, wantDone, `round ${round}: keys taken before full (seed ${rng.seed})`);
    await idx.flush();
    const got = readFileSync(idx.filePath);
    const want = Buffer.from(model.buffer);
    if (!got.equals(want)) t.fail(`round ${round}: bytes differ (seed ${rng.seed})`);
    t.equal(idx.putHash(1, phy + 1, ts), false, 'full');
  }
});

t.test(
  'index-file: a writer brings in the slot and entry pages it writes, not readahead windows',
  async (t) => {
    // RocketMQ's geometry: 20 MB of slots, 400 MB of entries, all never written at first.
    const dir = path.join(tempDir(t, 'tidemq-index-'), 'index');
    if (skipWithoutReadahead(t, path.dirname(dir))) return;
    const g = { slots: 5_000_000, entries: 20_000_000 };
    const page = pageSize();
    const rng = new Rng(t, 'keys');
    const idx = IndexFile.create(dir, Date.now(), g);
    const keys = 200;
    let stored = 0;
    for (let i = 0; i < keys; i++) if (idx.put(`key-${rng.int(1e9)}`, i * 100, Date.now())) stored++;
    t.equal(stored, keys, 'every key stored');
    // each key: at most one slot page; the entries: two pages; the header page
    const limit = (keys + 4) * page;
    t.ok(cachedBytes(idx.filePath) <= limit, `new file, ${keys} keys: ${cachedBytes(idx.filePath)} B cached`);
    const again = IndexFile.open(idx.filePath, g)!;
    for (let i = 0; i < keys; i++) again.put(`key-${rng.int(1e9)}`, i * 100, Date.now());
    t.ok(
      cachedBytes(idx.filePath) <= 2 * limit,
      `reopened, ${keys} more: ${cachedBytes(idx.filePath)} B cached`,
    );
    t.equal(again.indexCount, 2 * keys + 1);
  },
);
