// appendBatch / putBatch: one validation pass before any write, offsets in message order, queue
// offsets continuing per queue, durability per flush policy.
import t from 'tap';
import { type Message, MessageStore } from '../../src/index.js';
import { isSafeInteger } from '../../src/store/commit-log.js';
import { bodyCrc } from '../../src/store/record-codec.js';
import { tempDir } from '../helpers/native-env.js';

const opts = { segmentBytes: 64 * 1024, cqEntriesPerFile: 4096, indexHashSlots: 4096, indexMaxEntries: 8192 };

t.test('append-batch: writes every message in order and rolls segments', async (t) => {
  const store = await MessageStore.open(tempDir(t, 'tidemq-batch-'), opts);
  t.teardown(() => store.close());
  const msgs: Message[] = Array.from({ length: 1000 }, (_, i) => ({
    topic: 'b',
    queueId: i % 3,
    body: `m${i}-${'y'.repeat(i % 50)}`,
    keys: `k${i}`,
  }));
  const r = store.appendBatch(msgs);
  t.equal(r.count, 1000);
  t.ok(store.stats().segments > 1, 'crossed segments');
  const scanned = [...store.scan()];
  t.same(
    scanned.map((m) => m.body.toString()),
    msgs.map((m) => m.body),
  );
  t.same(
    [...r.physicalOffsets],
    scanned.map((m) => m.physicalOffset),
  );
  t.same(
    [...r.queueOffsets],
    scanned.map((m) => m.queueOffset),
  );
  t.equal(r.endOffset, store.stats().wrotePosition);
  t.ok(
    scanned.every((m) => m.storeTimestamp === r.storeTimestamp),
    'one store timestamp',
  );
  t.same(
    scanned.filter((m) => m.queueId === 1).map((m) => m.queueOffset),
    Array.from({ length: 333 }, (_, i) => i),
  );
  await store.waitForDispatch();
  t.equal(store.queryByKey('b', 'k999')[0]?.body.toString(), msgs[999]!.body);
});

t.test('append-batch: a batch that fits a segment is never split across two', async (t) => {
  const store = await MessageStore.open(tempDir(t, 'tidemq-batch-'), opts);
  t.teardown(() => store.close());
  // Leave less room in the first segment than the next batch needs.
  while (store.stats().wrotePosition < opts.segmentBytes - 3000)
    store.append({ topic: 'b', body: 'x'.repeat(500) });
  const before = store.stats().wrotePosition;
  const r = store.appendBatch(
    Array.from({ length: 8 }, (_, i) => ({ topic: 'b', body: `${i}`.repeat(600) })),
  );
  t.ok(before + 8 * 600 > opts.segmentBytes, 'the batch did not fit the rest of the first segment');
  t.ok(
    [...r.physicalOffsets].every((p) => p >= opts.segmentBytes),
    'every record of the batch is in the second segment (a roll that fails writes none of it)',
  );
  t.same(
    [...store.scan(r.physicalOffsets[0]!)].map((m) => m.body.toString()[0]),
    ['0', '1', '2', '3', '4', '5', '6', '7'],
    'in order, readable',
  );
  const big = store.appendBatch(
    Array.from({ length: 200 }, (_, i) => ({ topic: 'b', body: `${i % 10}`.repeat(600) })),
  );
  t.equal(big.count, 200, 'a batch larger than a segment still goes in (across segments)');
});

t.test('append-batch: one bad message rejects the whole batch and writes nothing', async (t) => {
  const store = await MessageStore.open(tempDir(t, 'tidemq-batch-'), opts);
  t.teardown(() => store.close());
  store.append({ topic: 'b', body: 'before' });
  const before = store.stats().wrotePosition;
  t.throws(
    () =>
      store.appendBatch([
        { topic: 'b', body: 'ok' },
        { topic: 'bad topic', body: 'x' },
      ]),
    {
      code: 'INVALID_TOPIC',
    },
  );
  t.throws(
    () =>
      store.appendBatch([
        { topic: 'b', body: 'ok' },
        { topic: 'b', body: 42 as unknown as string },
      ]),
    {
      code: 'INVALID_MESSAGE',
    },
  );
  t.throws(() => store.appendBatch('nope' as unknown as Message[]), { code: 'INVALID_MESSAGE' });
  t.equal(store.stats().wrotePosition, before, 'nothing written');
  t.equal(store.append({ topic: 'b', body: 'after' }).queueOffset, 1, 'queue offsets untouched');
});

t.test('append-batch: putBatch in sync mode resolves after the batch is on disk', async (t) => {
  const store = await MessageStore.open(tempDir(t, 'tidemq-batch-'), { ...opts, flush: 'sync' });
  t.teardown(() => store.close());
  const r = await store.putBatch([
    { topic: 'b', body: 'one' },
    { topic: 'b', body: 'two' },
  ]);
  t.ok(store.stats().flushedPosition >= r.endOffset, 'flushed past the batch');
  t.ok(store.stats().flushes >= 1);
});

t.test('append-batch: bornTimestamp is checked as Number.isSafeInteger checks it', async (t) => {
  const store = await MessageStore.open(tempDir(t, 'tidemq-batch-'), opts);
  t.teardown(() => store.close());
  const values: unknown[] = [
    0,
    -0,
    1,
    -1,
    1.5,
    -1.5,
    1_700_000_000_123,
    2 ** 53 - 1,
    -(2 ** 53 - 1),
    2 ** 53,
    -(2 ** 53),
    2 ** 60,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    Number.MIN_VALUE,
    '5',
    null,
    true,
    5n,
    {},
  ];
  for (const v of values) {
    const name = typeof v === 'bigint' ? `${v}n` : String(v);
    t.equal(isSafeInteger(v), Number.isSafeInteger(v), `isSafeInteger(${name})`);
    const before = store.stats().wrotePosition;
    const msg = { topic: 'b', body: 'x', bornTimestamp: v as number };
    if (Number.isSafeInteger(v)) {
      const r = store.appendBatch([msg]);
      t.equal(store.get(r.physicalOffsets[0]!)?.bornTimestamp, v === 0 ? 0 : v, `${name} stored`);
    } else {
      t.throws(() => store.appendBatch([msg]), { code: 'INVALID_MESSAGE' }, `${name} refused`);
      t.equal(store.stats().wrotePosition, before, `${name}: nothing written`);
    }
  }
});

// A batch longer than what the JS thread seals itself (1 MiB, flush-service.ts) is sealed on the
// libuv pool; one shorter, in the turn that wrote it. Either way an async putBatch resolves only
// once every record carries its body CRC (it then survives a process crash).
for (const [label, count] of [
  ['sealed on the JS thread', 40],
  ['sealed on the pool', 200],
] as const) {
  t.test(
    `append-batch: async putBatch of ${count} × 16 KiB (${label}) resolves with every record sealed`,
    async (t) => {
      const store = await MessageStore.open(tempDir(t, 'tidemq-batch-seal-'), {
        ...opts,
        segmentBytes: 8 * 1024 * 1024,
        flush: 'async',
      });
      t.teardown(() => store.close());
      const msgs: Message[] = Array.from({ length: count }, (_, i) => ({
        topic: 'b',
        body: Buffer.alloc(16 * 1024, i % 251),
      }));
      const r = await store.putBatch(msgs);
      t.equal(r.count, count);
      let sealed = 0;
      for (const rec of store.scan(0, count)) {
        if (rec.bodyCrc === bodyCrc(rec.body, 0, rec.body.length) && rec.bodyCrc !== 0) sealed++;
      }
      t.equal(sealed, count, 'every body CRC is written and matches its body');
    },
  );
}
