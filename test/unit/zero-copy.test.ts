/**
 * Zero copy: get().body is a Buffer view over the segment's mapping (the external ArrayBuffer
 * of the whole segment), not a copy; it stays readable after its segment file is deleted by
 * retention and after GC, and the mapping is unmapped by its finalizer only once nothing refers
 * to it. Needs global.gc: without --expose-gc this file runs itself again with it.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const gc = (globalThis as { gc?: () => void }).gc;

if (typeof gc !== 'function') {
  // Same loaders and flags tap gave us, plus --expose-gc; the child's TAP output is ours.
  const child = spawnSync(
    process.execPath,
    ['--expose-gc', ...process.execArgv, fileURLToPath(import.meta.url)],
    {
      stdio: 'inherit',
    },
  );
  process.exitCode = child.status ?? 1;
} else {
  await runTests(gc);
}

async function runTests(gc: () => void): Promise<void> {
  const { default: t } = await import('tap');
  const { MessageStore } = await import('../../src/index.js');
  const { native } = await import('../../src/native.js');
  const { segmentPathFor, tempDir } = await import('../helpers/fs.js');
  const { readRecord } = await import('../helpers/record-reader.js');

  const SEGMENT_BYTES = 64 * 1024;

  const collect = async (rounds = 6): Promise<void> => {
    for (let i = 0; i < rounds; i++) {
      gc();
      await nextTurn();
    }
  };

  t.test('zero copy: get().body is a view over the segment mapping', async (t) => {
    const dir = tempDir(t);
    const store = await MessageStore.open(dir, { segmentBytes: SEGMENT_BYTES });
    t.teardown(() => store.close());
    const a = store.append({ topic: 'zc', body: Buffer.alloc(300, 0x41) });
    const b = store.append({ topic: 'zc', body: 'second' });
    await store.flush();

    const first = store.get(a.physicalOffset)!;
    const second = store.get(b.physicalOffset)!;
    t.ok(Buffer.isBuffer(first.body), 'body is a Buffer');
    t.equal(first.body.buffer.byteLength, SEGMENT_BYTES, 'its ArrayBuffer is the whole segment');
    t.equal(first.body.buffer, second.body.buffer, 'records of one segment share one ArrayBuffer');
    const file = segmentPathFor(dir, a.physicalOffset, SEGMENT_BYTES);
    const raw = readRecord(readFileSync(file), a.physicalOffset % SEGMENT_BYTES)!;
    t.equal(first.body.byteOffset, raw.bodyPosition, 'the view starts at the body inside the record');
    t.equal(first.body.length, 300);

    // Change the body in the file behind the store's back: a mapping sees it, a copy would not.
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.from('ZERO-COPY'), 0, 9, raw.bodyPosition);
    closeSync(fd);
    t.equal(first.body.subarray(0, 9).toString(), 'ZERO-COPY', 'a write to the file shows through the body');
  });

  t.test('zero copy: a body stays readable after retention deletes its segment and GC runs', async (t) => {
    const dir = tempDir(t);
    const store = await MessageStore.open(dir, { segmentBytes: SEGMENT_BYTES, fileReservedHours: 0 });
    t.teardown(() => store.close());
    const first = store.append({ topic: 'zc', body: Buffer.alloc(1000, 0x5a) });
    for (let i = 0; i < 200; i++) store.append({ topic: 'zc', body: Buffer.alloc(1000, i & 0xff) });
    await store.flush();
    t.ok(store.stats().segments >= 3, `${store.stats().segments} segments`);
    const firstFile = segmentPathFor(dir, first.physicalOffset, SEGMENT_BYTES);

    let held: Buffer | undefined = store.get(first.physicalOffset)!.body;
    const expected = Buffer.from(held); // a real copy, to compare with
    await collect();
    const before = native.mappingCounters();

    const { deletedSegments } = store.runRetention();
    t.ok(deletedSegments >= 2, `retention deleted ${deletedSegments} segments`);
    t.equal(store.stats().segments, 1, 'only the active segment is left');
    t.notOk(existsSync(firstFile), 'the first segment file is gone');
    t.equal(store.get(first.physicalOffset), undefined, 'its records are no longer served');
    t.ok(store.stats().minOffset > first.physicalOffset, 'minOffset moved past it');

    await collect();
    t.ok(held.equals(expected), 'the held body is intact after deletion and GC');
    let sum = 0;
    for (const byte of held) sum += byte;
    t.equal(sum, 0x5a * 1000, 'every byte of it is readable');
    const whileHeld = native.mappingCounters();
    t.ok(
      whileHeld.unmapped - before.unmapped < deletedSegments,
      `while the body is held its mapping is not unmapped (${whileHeld.unmapped - before.unmapped} of ${deletedSegments} deleted segments unmapped)`,
    );

    held = undefined;
    let after = native.mappingCounters();
    for (let i = 0; i < 50 && after.unmapped - before.unmapped < deletedSegments; i++) {
      await collect(2);
      after = native.mappingCounters();
    }
    t.ok(
      after.unmapped - before.unmapped >= deletedSegments,
      `once released, the finalizers unmap every deleted segment (${after.unmapped - before.unmapped} of ${deletedSegments})`,
    );
  });

  t.test('zero copy: a body outlives the store being closed', async (t) => {
    const dir = tempDir(t);
    const store = await MessageStore.open(dir, { segmentBytes: SEGMENT_BYTES });
    const r = store.append({ topic: 'zc', body: 'outlives close' });
    const body = store.get(r.physicalOffset)!.body;
    await store.close();
    await collect();
    t.equal(body.toString(), 'outlives close');
  });
}
