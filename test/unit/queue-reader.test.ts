/**
 * QueueReader read side: minOffset is cached per queue (valid while the commit log's and the
 * queue's own first offsets stand); across random appends and retention it must always equal
 * the first offset whose record is still readable. Prints its seed; TIDEMQ_SEED replays.
 */
import t from 'tap';
import { MessageStore } from '../../src/store/message-store.js';
import { tempDir } from '../helpers/native-env.js';
import { pickSeed, Rng } from '../helpers/rng.js';

const SEGMENT_BYTES = 64 * 1024;

t.test('queue-reader: the cached minOffset follows appends and retention', async (t) => {
  const seed = pickSeed();
  t.comment(`seed ${seed} (replay with TIDEMQ_SEED=${seed})`);
  const rng = new Rng(seed);
  const dir = tempDir(t);
  const store = await MessageStore.open(dir, {
    segmentBytes: SEGMENT_BYTES,
    fileReservedHours: 0,
    cqEntriesPerFile: 1024,
  });
  t.teardown(() => store.close());
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
