/**
 * QueueReader read side: minOffset is cached per queue (valid while the commit log's and the
 * queue's own first offsets stand); across random appends and retention it must always equal
 * the first offset whose record is still readable. Prints its seed; TIDEMQ_SEED replays.
 */
import t, { type Test } from 'tap';
import { MessageStore } from '../../src/store/message-store.js';
import { tempDir } from '../helpers/native-env.js';
import { pickSeed, Rng } from '../helpers/rng.js';

const SEGMENT_BYTES = 64 * 1024;

/**
 * A seeded store of small segments that retention may delete at once: reads cross many
 * segments, and a record's segment is often not the one the last record was in.
 */
async function smallSegmentStore(t: Test): Promise<{ store: MessageStore; rng: Rng; seed: number }> {
  const seed = pickSeed();
  t.comment(`seed ${seed} (replay with TIDEMQ_SEED=${seed})`);
  const store = await MessageStore.open(tempDir(t), {
    segmentBytes: SEGMENT_BYTES,
    fileReservedHours: 0,
    cqEntriesPerFile: 1024,
  });
  t.teardown(() => store.close());
  return { store, rng: new Rng(seed), seed };
}

t.test('queue-reader: the cached minOffset follows appends and retention', async (t) => {
  const { store, rng, seed } = await smallSegmentStore(t);
  let problems = 0;
  let deleted = 0;
  for (let round = 0; round < 40; round++) {
    const n = rng.int(60);
    for (let i = 0; i < n; i++) {
      store.append({ topic: 'mo', queueId: rng.int(2), body: Buffer.alloc(200 + rng.int(800), i & 0xff) });
    }
    await store.waitForDispatch();
    if (rng.bool(0.3)) deleted += store.runRetention().deletedSegments;
    for (let q = 0; q < 2; q++) {
      for (let k = 0; k < 2; k++) {
        // twice: the second answer comes from the cache
        const max = store.maxOffset('mo', q);
        const first = store.read('mo', q, 0, 1)[0];
        const want = first ? first.queueOffset : max;
        const got = store.minOffset('mo', q);
        if (got !== want) {
          problems++;
          t.equal(got, want, `round ${round} queue ${q}: minOffset`);
        }
      }
    }
  }
  t.ok(deleted > 0, `retention deleted ${deleted} segments`);
  t.equal(problems, 0, `seed ${seed}: minOffset agrees with the first readable record`);
});

t.test('queue-reader: a batch read finds each record as a read of one does (across segments)', async (t) => {
  const { store, rng, seed } = await smallSegmentStore(t);
  let problems = 0;
  let compared = 0;
  for (let round = 0; round < 30; round++) {
    for (let i = rng.int(200); i > 0; i--) {
      store.append({ topic: 'sc', queueId: rng.int(3), body: Buffer.alloc(100 + rng.int(2000), i & 0xff) });
    }
    await store.waitForDispatch();
    if (rng.bool(0.2)) store.runRetention();
    const q = rng.int(3);
    const from = rng.int(store.maxOffset('sc', q) + 3);
    const batch = store.read('sc', q, from, rng.int(400));
    const single = [];
    for (let o = from; single.length < batch.length && o < store.maxOffset('sc', q); o++) {
      const one = store.read('sc', q, o, 1);
      if (one.length > 0 && one[0]!.queueOffset === o) single.push(one[0]!);
    }
    const key = (r: { physicalOffset: number; queueOffset: number; body: Buffer }) =>
      `${r.physicalOffset}:${r.queueOffset}:${r.body.length}:${r.body[0]}`;
    compared += batch.length;
    if (batch.map(key).join() !== single.map(key).join()) {
      problems++;
      t.same(batch.map(key), single.map(key), `round ${round} queue ${q} from ${from}`);
    }
  }
  t.ok(compared > 500, `${compared} records compared`);
  t.equal(problems, 0, `seed ${seed}: batch reads agree with reads of one`);
});
