// The next commit log segment is made off the JS thread (allocateFile on a libuv thread, under a
// temporary name, renamed once preallocated) and mapped when done. What a user relies on: a
// segment file is never half-allocated under its name, rolls that overtake a preparation lose
// nothing, close leaves no prepared file behind, and a crash's leftover temporary file is gone
// after the next open without touching a segment.
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { MessageStore } from '../../src/index.js';
import { native } from '../../src/native.js';
import { PREPARING_SUFFIX, segmentFileName } from '../../src/store/mapped-segment.js';
import { tempDir, until } from '../helpers/native-env.js';

const SEG = 64 * 1024;

const logFiles = (dir: string) => readdirSync(path.join(dir, 'commitlog')).sort();

t.test('allocateFile: complete under the final name, or gives way to an existing file', async (t) => {
  const dir = tempDir(t, 'tidemq-allocate-');
  const finalPath = path.join(dir, segmentFileName(0));
  t.equal(await native.allocateFile(finalPath + PREPARING_SUFFIX, finalPath, 3 * 4096), true);
  t.equal(statSync(finalPath).size, 3 * 4096, 'the file has its full size under its name');
  t.notOk(existsSync(finalPath + PREPARING_SUFFIX), 'no temporary file is left');

  writeFileSync(finalPath, 'taken');
  t.equal(await native.allocateFile(finalPath + PREPARING_SUFFIX, finalPath, 4096), false);
  t.equal(statSync(finalPath).size, 5, 'an existing file is never replaced');
  t.notOk(existsSync(finalPath + PREPARING_SUFFIX), 'the temporary file is removed');

  const missing = path.join(dir, 'no-such-dir', 'f');
  await t.rejects(native.allocateFile(missing + PREPARING_SUFFIX, missing, 4096), { code: 'ENOENT' });
});

t.test('the next segment is prepared in the background, complete and mapped', async (t) => {
  const dir = tempDir(t, 'tidemq-prepare-');
  const store = await MessageStore.open(dir, { segmentBytes: SEG });
  t.teardown(() => store.close());
  store.append({ topic: 'p', body: Buffer.alloc(100, 1) });
  const next = path.join(dir, 'commitlog', segmentFileName(SEG));
  t.ok(await until(() => existsSync(next)), 'the segment after the active one appears without a roll');
  t.equal(statSync(next).size, SEG, 'with its full size');
  t.same(
    logFiles(dir).filter((n) => n.endsWith(PREPARING_SUFFIX)),
    [],
    'no temporary file once it is done',
  );
});

t.test('rolls that overtake a preparation lose nothing; close and reopen find every message', async (t) => {
  const dir = tempDir(t, 'tidemq-prepare-race-');
  let store = await MessageStore.open(dir, { segmentBytes: SEG });
  const bodies: Buffer[] = [];
  // Each batch fills several segments in one synchronous call, so most rolls happen while the
  // preparation they started is still on its thread (or done but not yet seen by the loop).
  for (let round = 0; round < 40; round++) {
    const batch = Array.from({ length: 600 }, (_, i) => {
      const body = Buffer.alloc(200, (round * 7 + i) % 251);
      body.writeUInt32LE(bodies.length + i, 0);
      return { topic: 'p', body };
    });
    store.appendBatch(batch);
    for (const m of batch) bodies.push(m.body);
    if (round % 3 === 0) await new Promise((r) => setImmediate(r));
  }
  await store.flush();
  const wrote = store.stats().wrotePosition;
  const following = path.join(dir, 'commitlog', segmentFileName((Math.floor(wrote / SEG) + 1) * SEG));
  t.ok(
    await until(() => existsSync(following)),
    'after rolls that overtook it, a preparation is made for the segment after the active one',
  );
  await store.close();
  const files = logFiles(dir);
  t.same(
    files.filter((n) => !/^\d{20}$/.test(n)),
    [],
    'only segment files in the commit log directory after close',
  );
  store = await MessageStore.open(dir, { segmentBytes: SEG });
  t.teardown(() => store.close());
  let n = 0;
  let bad = 0;
  for (const m of store.scan(0)) {
    if (!m.body.equals(bodies[n]!)) bad++;
    n++;
  }
  t.equal(n, bodies.length, `all ${bodies.length} messages over ${files.length} segments are there`);
  t.equal(bad, 0, 'each in its place, unchanged');
});

t.test('close waits for a preparation in flight and deletes its file', async (t) => {
  const dir = tempDir(t, 'tidemq-prepare-close-');
  for (let i = 0; i < 20; i++) {
    const store = await MessageStore.open(dir, { segmentBytes: SEG });
    store.append({ topic: 'p', body: Buffer.alloc(100, i) }); // starts a preparation
    await store.close(); // at once, the preparation just started
    const files = logFiles(dir);
    if (files.length !== 1 || files[0] !== segmentFileName(0)) {
      t.fail(`round ${i}: after close the commit log holds ${files.join(', ')}, not only the active segment`);
      return;
    }
  }
  t.pass('after each close, only the active segment is on disk (20 rounds)');
  const store = await MessageStore.open(dir, { segmentBytes: SEG });
  t.teardown(() => store.close());
  t.equal([...store.scan(0)].length, 20, 'every message of every open is there');
});

t.test('a temporary file left by a crash is deleted at open; segments are untouched', async (t) => {
  const dir = tempDir(t, 'tidemq-prepare-crash-');
  let store = await MessageStore.open(dir, { segmentBytes: SEG });
  store.append({ topic: 'p', body: Buffer.from('kept') });
  await store.close();
  const leftover = path.join(dir, 'commitlog', segmentFileName(SEG) + PREPARING_SUFFIX);
  const unrelated = path.join(dir, 'commitlog', 'notes.preparing');
  writeFileSync(leftover, Buffer.alloc(4096));
  writeFileSync(unrelated, 'not ours');
  store = await MessageStore.open(dir, { segmentBytes: SEG });
  t.teardown(() => store.close());
  t.notOk(existsSync(leftover), 'the temporary file is gone');
  t.ok(existsSync(unrelated), 'a file that is not a temporary segment name is left alone');
  t.same(
    [...store.scan(0)].map((m) => m.body.toString()),
    ['kept'],
    'the store reads what it had',
  );
});
