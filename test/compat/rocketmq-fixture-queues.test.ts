// The real RocketMQ 4.x segment (shared/fixtures, mappedFileSizeCommitLog=8192: 47 messages of
// topic abc, queue 0, tag TAG1, KEYS set) opened as a tidemq store: its consume queue and key
// index are built from it, and reads by queue, by key and by time find its messages.
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { MessageStore } from '../../src/store/message-store.js';
import { rocketmqSegmentPath, tempDir } from '../helpers/native-env.js';

async function openFixture(t: Test): Promise<MessageStore> {
  const dir = tempDir(t, 'tidemq-compat-');
  mkdirSync(path.join(dir, 'commitlog'));
  copyFileSync(rocketmqSegmentPath, path.join(dir, 'commitlog', '00000000000000000000'));
  const store = await MessageStore.open(dir, { segmentBytes: 8192 });
  t.teardown(() => store.close());
  await store.waitForDispatch();
  return store;
}

t.test('rocketmq fixture: the segment is present', async (t) => {
  t.ok(existsSync(rocketmqSegmentPath), `found at ${path.basename(rocketmqSegmentPath)}`);
  t.equal(readFileSync(rocketmqSegmentPath).length, 8192, 'one 8 KiB segment');
});

t.test("rocketmq fixture: read('abc', 0, 0, 100) yields the 47 messages in order", async (t) => {
  const store = await openFixture(t);
  const logOrder = [...store.scan()];
  t.equal(logOrder.length, 47, 'the commit log holds 47 records');
  const got = store.read('abc', 0, 0, 100);
  t.equal(got.length, 47, '47 messages');
  t.equal(got.nextQueueOffset, 47, 'nextQueueOffset 47');
  got.forEach((m, i) => {
    if (m.queueOffset !== i || m.physicalOffset !== logOrder[i]!.physicalOffset) {
      t.fail(`message ${i}: queue offset ${m.queueOffset}, physical ${m.physicalOffset}`);
    }
  });
  t.same(
    got.map((m) => m.queueOffset),
    Array.from({ length: 47 }, (_, i) => i),
    'queue offsets 0..46',
  );
  t.ok(
    got.every((m) => m.topic === 'abc' && m.queueId === 0 && m.tags === 'TAG1' && m.keys.length === 1),
    'topic abc, queue 0, tag TAG1, one key each',
  );
  t.equal(got[0]!.body.toString(), 'Once, there was a chance for me!', 'the body of the first message');
  t.equal(store.minOffset('abc', 0), 0, 'minOffset 0');
  t.equal(store.maxOffset('abc', 0), 47, 'maxOffset 47');
  t.same(store.topics(), ['abc'], 'topics()');
  t.same(store.queues('abc'), [0], 'queues(abc)');
  t.equal(store.read('abc', 0, 0, 100, { tags: 'TAG1' }).length, 47, "tag filter 'TAG1' keeps all 47");
  t.equal(store.read('abc', 0, 0, 100, { tags: 'TAG2||other' }).length, 0, "tag filter 'TAG2||other' none");
  const paged: number[] = [];
  for (let off = 0; off < 47; ) {
    const page = store.read('abc', 0, off, 10);
    paged.push(...page.map((m) => m.queueOffset));
    off = page.nextQueueOffset;
  }
  t.same(
    paged,
    Array.from({ length: 47 }, (_, i) => i),
    'paging by 10 visits each once',
  );
});

t.test('rocketmq fixture: queryByKey on its KEYS finds the messages', async (t) => {
  const store = await openFixture(t);
  const all = store.read('abc', 0, 0, 100);
  const byKey = new Map<string, number[]>();
  for (const m of all) byKey.set(m.keys[0]!, [...(byKey.get(m.keys[0]!) ?? []), m.physicalOffset]);
  const key = all[20]!.keys[0]!;
  const found = store.queryByKey('abc', key);
  t.ok(found.length >= 1, `key ${key} found`);
  t.ok(
    found.some((m) => m.physicalOffset === all[20]!.physicalOffset),
    'the message with that key is among the results',
  );
  let wrong = 0;
  for (const [k, offsets] of byKey) {
    const got = store
      .queryByKey('abc', k)
      .map((m) => m.physicalOffset)
      .sort((a, b) => a - b);
    if (JSON.stringify(got) !== JSON.stringify(offsets)) {
      wrong++;
      t.same(got, offsets, `queryByKey(abc, ${k})`);
    }
  }
  t.equal(wrong, 0, `each of the ${byKey.size} distinct keys finds exactly its messages`);
  t.same(store.queryByKey('abc', 'no-such-key'), [], 'an absent key finds nothing');
  t.same(store.queryByKey('other', key), [], 'the same key under another topic finds nothing');
  const ts = all[20]!.storeTimestamp;
  t.ok(
    store.queryByKey('abc', key, { beginMs: ts, endMs: ts }).length >= 1,
    'a time range holding the message finds it',
  );
  t.same(store.queryByKey('abc', key, { beginMs: ts + 1000 }), [], 'a later time range does not');
});

t.test('rocketmq fixture: offsetForTimestamp', async (t) => {
  const store = await openFixture(t);
  const all = store.read('abc', 0, 0, 100);
  t.equal(store.offsetForTimestamp('abc', 0, 0), 0, 'before everything: 0');
  t.equal(store.offsetForTimestamp('abc', 0, all[0]!.storeTimestamp), 0, 'the first store time: 0');
  t.equal(store.offsetForTimestamp('abc', 0, all[46]!.storeTimestamp + 1), 47, 'after everything: 47');
  for (const i of [1, 5, 20, 33, 46]) {
    const ts = all[i]!.storeTimestamp;
    const want = all.findIndex((m) => m.storeTimestamp >= ts);
    t.equal(store.offsetForTimestamp('abc', 0, ts), want, `store time of message ${i} -> ${want}`);
  }
});

t.test('rocketmq fixture: consume queue and index survive a reopen', async (t) => {
  const dir = tempDir(t, 'tidemq-compat-');
  mkdirSync(path.join(dir, 'commitlog'));
  copyFileSync(rocketmqSegmentPath, path.join(dir, 'commitlog', '00000000000000000000'));
  let store = await MessageStore.open(dir, { segmentBytes: 8192 });
  await store.waitForDispatch();
  const before = store.read('abc', 0, 0, 100).map((m) => m.physicalOffset);
  await store.close();
  const cq = readFileSync(path.join(dir, 'consumequeue', 'abc', '0', '00000000000000000000'));
  t.equal(cq.readInt32BE(46 * 20 + 8), 172, 'the 47th consume queue entry holds the record size 172');
  t.equal(cq.readInt32BE(47 * 20 + 8), 0, 'no 48th entry');
  store = await MessageStore.open(dir, { segmentBytes: 8192 });
  t.teardown(() => store.close());
  await store.waitForDispatch();
  t.same(
    store.read('abc', 0, 0, 100).map((m) => m.physicalOffset),
    before,
    'the same 47 messages after reopen',
  );
});
