// Consume queue format (RocketMQ's): 20-byte big-endian entries at k × 20, files named by their
// 20-digit logical byte offset, idempotent re-append, truncateAfter, valid end after a torn entry,
// filler entries at the head of a queue that starts part-way.
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ConsumeQueue, consumeQueueDir } from '../../src/store/consume-queue.js';
import { javaHashCode, writeInt64 } from '../../src/store/record-codec.js';
import { cachedBytes, pageSize, skipWithoutReadahead, tempDir } from '../helpers/native-env.js';
import { Rng } from '../helpers/store-env.js';

const PER_FILE = 1024;

function entryAt(file: Buffer, k: number): [number, number, number] {
  const pos = k * 20;
  return [Number(file.readBigInt64BE(pos)), file.readInt32BE(pos + 8), Number(file.readBigInt64BE(pos + 12))];
}

t.test(
  'consume-queue: 20-byte big-endian entries at k×20 in files named by logical byte offset',
  async (t) => {
    const dir = tempDir(t, 'tidemq-cq-');
    const cq = new ConsumeQueue(dir, 'orders', 3, PER_FILE);
    const n = PER_FILE + 10;
    for (let k = 0; k < n; k++) t.equal(cq.append(k, 1000 + k * 100, 100, javaHashCode(`tag${k % 3}`)), true);
    await cq.flush();
    const qdir = consumeQueueDir(dir, 'orders', 3);
    t.same(
      readdirSync(qdir).sort(),
      ['00000000000000000000', String(PER_FILE * 20).padStart(20, '0')],
      'two files',
    );
    const f0 = readFileSync(path.join(qdir, '00000000000000000000'));
    const f1 = readFileSync(path.join(qdir, String(PER_FILE * 20).padStart(20, '0')));
    t.equal(f0.length, PER_FILE * 20, 'file size = entries per file × 20');
    t.same(entryAt(f0, 0), [1000, 100, javaHashCode('tag0')], 'entry 0');
    t.same(entryAt(f0, 5), [1500, 100, javaHashCode('tag2')], 'entry 5');
    t.same(
      entryAt(f1, 3),
      [1000 + (PER_FILE + 3) * 100, 100, javaHashCode(`tag${(PER_FILE + 3) % 3}`)],
      'entry 1027',
    );
    t.same(entryAt(f1, 10), [0, 0, 0], 'past the end: zero');
    t.same(
      [...new Uint8Array(f0.buffer, f0.byteOffset + 20, 8)],
      [0, 0, 0, 0, 0, 0, 0x04, 0x4c],
      'commitLogOffset 1100 big-endian',
    );
    t.equal(cq.maxOffset, n, 'maxOffset');
    t.equal(javaHashCode('Aa'), javaHashCode('BB'), 'Aa and BB share a hash code (2112)');
    t.equal(javaHashCode('Aa'), 2112);
  },
);

t.test('consume-queue: re-append is idempotent; truncateAfter drops entries past the log end', async (t) => {
  const dir = tempDir(t, 'tidemq-cq-');
  const cq = new ConsumeQueue(dir, 't', 0, PER_FILE);
  for (let k = 0; k < 10; k++) cq.append(k, k * 50, 50, 0);
  t.equal(cq.append(9, 450, 50, 0), false, 'the same record again is ignored');
  t.equal(cq.append(4, 200, 50, 0), false, 'an older record is ignored');
  t.equal(cq.maxOffset, 10, 'still 10 entries');
  t.equal(cq.truncateAfter(300), 4, 'records ending past 300 dropped');
  t.equal(cq.maxOffset, 6, '6 entries left');
  t.equal(cq.append(6, 300, 50, 7), true, 'replay after truncation appends again');
  await cq.flush();
  const reopened = new ConsumeQueue(dir, 't', 0, PER_FILE);
  t.equal(reopened.maxOffset, 7, 'reopened: 7 entries');
  t.same(reopened.entry(6), { physicalOffset: 300, size: 50, tagsCode: 7 }, 'the replayed entry');
});

t.test('consume-queue: the valid end stops at a torn (zeroed) entry', async (t) => {
  const dir = tempDir(t, 'tidemq-cq-');
  const cq = new ConsumeQueue(dir, 't', 1, PER_FILE);
  for (let k = 0; k < 20; k++) cq.append(k, k * 64, 64, 0);
  await cq.flush();
  const file = path.join(consumeQueueDir(dir, 't', 1), '00000000000000000000');
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(4), 0, 4, 12 * 20 + 8); // the size of entry 12 zeroed
  closeSync(fd);
  const reopened = new ConsumeQueue(dir, 't', 1, PER_FILE);
  t.equal(reopened.maxOffset, 12, 'ends before the torn entry');
  t.equal(reopened.maxPhysicalEnd, 11 * 64 + 64, 'maxPhysicalEnd from the last valid entry');
  t.equal(reopened.append(12, 12 * 64, 64, 0), true, 'the torn entry is rewritten by replay');
});

t.test('consume-queue: a queue starting part-way gets filler entries (0, 0x7fffffff, 0)', async (t) => {
  const dir = tempDir(t, 'tidemq-cq-');
  const cq = new ConsumeQueue(dir, 't', 2, PER_FILE);
  t.equal(cq.append(PER_FILE + 5, 9000, 80, 0), true);
  await cq.flush();
  const name = String(PER_FILE * 20).padStart(20, '0');
  t.same(readdirSync(consumeQueueDir(dir, 't', 2)), [name], 'the file holding offset 1029');
  const f = readFileSync(path.join(consumeQueueDir(dir, 't', 2), name));
  for (let k = 0; k < 5; k++) t.same(entryAt(f, k), [0, 0x7fffffff, 0], `filler ${k}`);
  t.same(entryAt(f, 5), [9000, 80, 0], 'the first real entry');
  const reopened = new ConsumeQueue(dir, 't', 2, PER_FILE);
  t.equal(reopened.minOffset, PER_FILE + 5, 'minOffset skips the filler');
  t.equal(reopened.maxOffset, PER_FILE + 6, 'maxOffset');
});

// Appends go to the file the last append wrote (no lookup per entry): across rolls, a queue
// starting part-way, retention and a destroy, the files must hold exactly the bytes of a model
// that writes each entry's three fields with writeInt64 (tag codes negative, zero, and beyond
// int32 too).
t.test('consume-queue: appended bytes equal the writeInt64 layout across rolls and retention', async (t) => {
  const rng = new Rng(t, 'consume-queue-append');
  const perFile = 7;
  const dir = tempDir(t, 'tidemq-cq-');
  const model = new Map<number, Buffer>(); // logical byte offset of a file → its bytes
  const fileOf = (byte: number): [Buffer, number] => {
    const from = byte - (byte % (perFile * 20));
    let f = model.get(from);
    if (!f) {
      f = Buffer.alloc(perFile * 20);
      model.set(from, f);
    }
    return [f, byte - from];
  };
  let cq = new ConsumeQueue(dir, 't', 0, perFile);
  let offset = rng.int(20); // a queue starting part-way
  for (let p = 0; p < (offset * 20) % (perFile * 20); p += 20)
    fileOf(offset * 20)[0].writeInt32BE(0x7fffffff, p + 8);
  let phys = 1000;
  let appended = 0;
  for (let step = 0; step < 300; step++) {
    if (rng.chance(0.05)) {
      // retention keeps the file being appended to; the next append goes on in it
      cq.deleteBefore(phys - rng.int(200));
      continue;
    }
    const size = 10 + rng.int(100);
    const tags = rng.pick([0, 1, -1, 2112, -2147483648, 2147483647, 2 ** 33 + 5, -(2 ** 40)]);
    const dup = rng.chance(0.1) && appended > 0;
    const wrote = cq.append(dup ? offset - 1 : offset, dup ? phys - 1 : phys, size, tags);
    if (wrote !== !dup) t.fail(`step ${step}: append returned ${wrote}`);
    if (dup) continue;
    const [f, pos] = fileOf(offset * 20);
    const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
    writeInt64(v, pos, phys);
    v.setInt32(pos + 8, size, false);
    writeInt64(v, pos + 12, tags);
    offset++;
    appended++;
    phys += size;
  }
  await cq.flush();
  const qdir = consumeQueueDir(dir, 't', 0);
  let checked = 0;
  for (const name of readdirSync(qdir)) {
    const want = model.get(Number(name))!;
    if (!readFileSync(path.join(qdir, name)).equals(want)) t.fail(`file ${name} differs (seed ${rng.seed})`);
    checked++;
  }
  // retention may have deleted all but the file being appended to
  t.ok(checked >= 1 && model.size >= 20, `${checked} of ${model.size} files compared (seed ${rng.seed})`);
  cq.destroy();
  cq = new ConsumeQueue(dir, 't', 0, perFile);
  t.equal(cq.append(3, 5, 10, -7), true, 'after destroy appends start a new file');
  t.same(entryAt(readFileSync(path.join(qdir, '00000000000000000000')), 3), [5, 10, -7]);
});

t.test(
  'consume-queue: appends bring in the pages they write, not a readahead window of the file',
  async (t) => {
    // Every page past the written entries is a never-written block; reading ahead there only
    // zero-fills pages, several MiB at once (read_ahead_kb), in the middle of a dispatch batch.
    const dir = tempDir(t, 'tidemq-cq-');
    if (skipWithoutReadahead(t, dir)) return;
    const perFile = 300_000; // RocketMQ's 6 MB files: larger than any one readahead window here
    const file = path.join(consumeQueueDir(dir, 'orders', 0), '00000000000000000000');
    const cq = new ConsumeQueue(dir, 'orders', 0, perFile);
    cq.append(0, 0, 100, 0);
    const page = pageSize();
    t.ok(cachedBytes(file) <= 4 * page, `first append: ${cachedBytes(file)} B of the file cached`);
    for (let k = 1; k < 5000; k++) cq.append(k, k * 100, 100, 0);
    const written = 5000 * 20;
    t.ok(cachedBytes(file) <= written + 4 * page, `5000 entries: ${cachedBytes(file)} B cached`);
    await cq.flush();
    // a writer that opens the queue again appends to the file it finds, with the same advice
    const again = new ConsumeQueue(dir, 'orders', 0, perFile);
    t.equal(again.maxOffset, 5000);
    again.append(5000, 500_000, 100, 0);
    t.ok(cachedBytes(file) <= written + 8 * page, `reopened, one more entry: ${cachedBytes(file)} B cached`);
    t.same(again.entry(5000), { physicalOffset: 500_000, size: 100, tagsCode: 0 });
  },
);
