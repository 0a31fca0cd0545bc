// Consume queues and the key index are derived from the commit log: deleting or damaging them and
// reopening (or opening with rebuild: true) gives the same answers as before.
import { closeSync, existsSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { MessageStore } from '../../src/store/message-store.js';
import { tempDir } from '../helpers/native-env.js';
import { Rng, SMALL } from '../helpers/store-env.js';

// 1024-entry consume queue files and 2048-entry index files: the hot queue spans several files.
const OPTIONS = { ...SMALL, cqEntriesPerFile: 1024, indexMaxEntries: 2048 };
const QUEUES = [
  { topic: 'hot', queueId: 0 },
  { topic: 'hot', queueId: 1 },
  { topic: 'cold', queueId: 0 },
  { topic: 'cold', queueId: 3 },
];
const KEYS = Array.from({ length: 30 }, (_, i) => `key-${i}`);

interface Snapshot {
  reads: Record<string, string[]>;
  keys: Record<string, number[]>;
  times: Record<string, number>;
  offsets: Record<string, [number, number]>;
}

async function populate(t: Test, rng: Rng, dispatchWorkers = 1): Promise<{ dir: string; snap: Snapshot }> {
  const dir = tempDir(t, 'tidemq-rebuild-');
  const store = await MessageStore.open(dir, { ...OPTIONS, dispatchWorkers });
  for (let i = 0; i < 3000; i++) {
    const q = rng.chance(0.6) ? QUEUES[0]! : rng.pick(QUEUES);
    store.append({
      ...q,
      body: `body-${i}`,
      tags: rng.pick(['Aa', 'BB', 'x']),
      keys: rng.chance(0.7) ? [rng.pick(KEYS), rng.pick(KEYS)] : rng.pick(KEYS),
    });
    if (i % 500 === 0) await new Promise((r) => setTimeout(r, 2)); // a few distinct store times
  }
  await store.waitForDispatch();
  const snap = snapshot(store);
  await store.close();
  return { dir, snap };
}

function snapshot(store: MessageStore): Snapshot {
  const snap: Snapshot = { reads: {}, keys: {}, times: {}, offsets: {} };
  const times = [...store.scan()].map((r) => r.storeTimestamp);
  for (const { topic, queueId } of QUEUES) {
    const q = `${topic}/${queueId}`;
    for (const tags of [undefined, 'Aa', 'BB||x']) {
      snap.reads[`${q} ${tags ?? '*'}`] = store
        .read(topic, queueId, 0, 100_000, tags === undefined ? {} : { tags })
        .map((r) => `${r.queueOffset}@${r.physicalOffset} ${r.tags} ${r.body.toString()}`);
    }
    snap.offsets[q] = [store.minOffset(topic, queueId), store.maxOffset(topic, queueId)];
    for (const i of [0, Math.floor(times.length / 2), times.length - 1]) {
      snap.times[`${q} ${times[i]}`] = store.offsetForTimestamp(topic, queueId, times[i]!);
    }
  }
  for (const topic of ['hot', 'cold']) {
    for (const key of KEYS) {
      snap.keys[`${topic}#${key}`] = store
        .queryByKey(topic, key, { maxMessages: 64 })
        .map((r) => r.physicalOffset);
    }
  }
  return snap;
}

async function reopenAndCompare(t: Test, dir: string, before: Snapshot, what: string, rebuild = false) {
  const store = await MessageStore.open(dir, { ...OPTIONS, rebuild });
  await store.waitForDispatch();
  const after = snapshot(store);
  const stats = store.stats();
  await store.close();
  t.equal(stats.dispatchedPosition, stats.wrotePosition, `${what}: dispatch caught up with the log`);
  t.equal(stats.dispatchLagBytes, 0, `${what}: no dispatch lag left`);
  t.equal(stats.dispatchError, undefined, `${what}: no dispatch error`);
  for (const part of ['reads', 'keys', 'times', 'offsets'] as const) {
    t.same(after[part], before[part], `${what}: identical ${part}`);
  }
  t.ok(
    before.reads['hot/0 *']!.length > 1024,
    `the hot queue spans several consume queue files (${before.reads['hot/0 *']!.length} entries)`,
  );
}

t.test('derived-rebuild: deleting consumequeue/ and index/ rebuilds identical results', async (t) => {
  const { dir, snap } = await populate(t, new Rng(t, 'both deleted'));
  t.ok(readdirSync(path.join(dir, 'index')).length >= 2, 'the index had rolled to several files');
  rmSync(path.join(dir, 'consumequeue'), { recursive: true });
  rmSync(path.join(dir, 'index'), { recursive: true });
  await reopenAndCompare(t, dir, snap, 'consumequeue/ and index/ deleted');
  t.ok(existsSync(path.join(dir, 'consumequeue', 'hot', '0')), 'the consume queue was written again');
  // And once more, from the rebuilt files (a clean reopen with nothing to replay).
  await reopenAndCompare(t, dir, snap, 'reopened after the rebuild');
});

t.test('derived-rebuild: deleting only index/ rebuilds identical key results', async (t) => {
  const { dir, snap } = await populate(t, new Rng(t, 'index deleted'));
  rmSync(path.join(dir, 'index'), { recursive: true });
  await reopenAndCompare(t, dir, snap, 'index/ deleted');
});

t.test("derived-rebuild: deleting one queue's directory rebuilds it", async (t) => {
  const { dir, snap } = await populate(t, new Rng(t, 'one queue deleted'), 2);
  rmSync(path.join(dir, 'consumequeue', 'cold', '3'), { recursive: true });
  await reopenAndCompare(t, dir, snap, 'consumequeue/cold/3 deleted');
  rmSync(path.join(dir, 'consumequeue', 'hot', '0'), { recursive: true });
  await reopenAndCompare(t, dir, snap, 'consumequeue/hot/0 deleted');
});

t.test('derived-rebuild: a zeroed or torn consume queue file is repaired', async (t) => {
  const { dir, snap } = await populate(t, new Rng(t, 'zeroed file'));
  const qdir = path.join(dir, 'consumequeue', 'hot', '0');
  const files = readdirSync(qdir).sort();
  t.ok(files.length >= 2, `the hot queue has ${files.length} files`);
  // The last file zeroed entirely (its entries never reached the disk).
  const last = path.join(qdir, files[files.length - 1]!);
  const fd = openSync(last, 'r+');
  writeSync(fd, Buffer.alloc(statSync(last).size), 0, statSync(last).size, 0);
  closeSync(fd);
  await reopenAndCompare(t, dir, snap, 'last file of hot/0 zeroed');

  // A queue's only file removed.
  const cold = path.join(dir, 'consumequeue', 'cold', '0', '00000000000000000000');
  rmSync(cold);
  await reopenAndCompare(t, dir, snap, 'cold/0 file removed');
});

t.test('derived-rebuild: rebuild: true gives identical results', async (t) => {
  const { dir, snap } = await populate(t, new Rng(t, 'rebuild option'), 2);
  await reopenAndCompare(t, dir, snap, 'rebuild: true', true);
  await reopenAndCompare(t, dir, snap, 'plain reopen after rebuild: true');
});

// Known gap: recovery re-reads only a queue's last two files (consume-queue.ts refresh), so a hole
// in an older file goes unnoticed and read() silently skips the zeroed entries.
t.test(
  'derived-rebuild: zeroed entries in an older consume queue file are repaired',
  { todo: 'ConsumeQueue.refresh checks only the last two files for the valid end' },
  async (t) => {
    const { dir, snap } = await populate(t, new Rng(t, 'zeroed middle'));
    const qdir = path.join(dir, 'consumequeue', 'hot', '0');
    const files = readdirSync(qdir).sort();
    t.ok(files.length >= 3, `the hot queue has ${files.length} files`);
    const first = path.join(qdir, files[0]!);
    const fd = openSync(first, 'r+');
    writeSync(fd, Buffer.alloc(20 * 600 + 7), 0, 20 * 600 + 7, 20 * 400 + 3);
    closeSync(fd);
    await reopenAndCompare(t, dir, snap, 'entries 400..1000 of hot/0 zeroed');
  },
);
