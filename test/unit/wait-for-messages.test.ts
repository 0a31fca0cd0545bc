// waitForMessages, the long-poll primitive: a blocked reader is released within a few ms of a
// matching append, times out with false, and is not released by another queue's append.
import t from 'tap';
import { MessageStore } from '../../src/store/message-store.js';
import { tempDir } from '../helpers/native-env.js';
import { SMALL } from '../helpers/store-env.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

t.test('wait-for-messages: a blocked reader is released within a few ms of a matching append', async (t) => {
  for (const flush of ['async', 'sync'] as const) {
    const store = await MessageStore.open(tempDir(t, 'tidemq-wait-'), { ...SMALL, flush });
    const latenciesMs: number[] = [];
    for (let i = 0; i < 15; i++) {
      const waiting = store.waitForMessages('poll', 2, i, 5000);
      await new Promise((r) => setTimeout(r, 5)); // the reader is really blocked
      const start = performance.now();
      // In sync mode a record is dispatched once flushed: put() asks for the flush.
      const msg = { topic: 'poll', queueId: 2, body: `m${i}` };
      if (flush === 'sync') void store.put(msg);
      else store.append(msg);
      const released = await waiting;
      latenciesMs.push(performance.now() - start);
      t.ok(released, `${flush}: wait ${i} released with true`);
      t.equal(store.read('poll', 2, i, 1).length, 1, `${flush}: message ${i} readable once released`);
    }
    const med = median(latenciesMs);
    t.comment(`${flush}: release latencies ms ${latenciesMs.map((x) => x.toFixed(2)).join(' ')}`);
    t.comment(`${flush}: median ${med.toFixed(2)} ms, max ${Math.max(...latenciesMs).toFixed(2)} ms`);
    t.ok(med < 50, `${flush}: median release latency ${med.toFixed(2)} ms < 50 ms`);
    await store.close();
  }
});

t.test('wait-for-messages: times out with false', async (t) => {
  const store = await MessageStore.open(tempDir(t, 'tidemq-wait-'), SMALL);
  t.teardown(() => store.close());
  const start = performance.now();
  t.equal(await store.waitForMessages('idle', 0, 0, 60), false, 'nothing arrived: false');
  const waited = performance.now() - start;
  t.ok(waited >= 55 && waited < 2000, `returned after the timeout (${waited.toFixed(1)} ms)`);
  t.equal(await store.waitForMessages('idle', 0, 0, 0), false, 'timeout 0 with nothing there: false at once');
  store.append({ topic: 'idle', body: 'x' });
  await store.waitForDispatch();
  t.equal(await store.waitForMessages('idle', 0, 0, 0), true, 'an offset already there: true at once');
  t.equal(await store.waitForMessages('idle', 0, 1, 30), false, 'the next offset: false after the timeout');
});

t.test("wait-for-messages: another queue's append does not release the reader", async (t) => {
  const store = await MessageStore.open(tempDir(t, 'tidemq-wait-'), { ...SMALL, dispatchWorkers: 2 });
  t.teardown(() => store.close());
  let settled: boolean | undefined;
  const waiting = store.waitForMessages('orders', 1, 0, 400).then((v) => {
    settled = v;
    return v;
  });
  store.append({ topic: 'orders', queueId: 0, body: 'other queue' });
  store.append({ topic: 'orders', queueId: 2, body: 'other queue' });
  store.append({ topic: 'payments', queueId: 1, body: 'other topic, same queue id' });
  await store.waitForDispatch();
  await new Promise((r) => setTimeout(r, 50));
  t.equal(settled, undefined, 'still blocked after other queues advanced');
  const start = performance.now();
  store.append({ topic: 'orders', queueId: 1, body: 'mine' });
  t.equal(await waiting, true, 'released by its own queue');
  t.ok(performance.now() - start < 200, 'released well before its timeout');

  // A reader waiting further ahead is not released by an append that does not reach its offset.
  const ahead = store.waitForMessages('orders', 1, 2, 150);
  store.append({ topic: 'orders', queueId: 1, body: 'offset 1' });
  t.equal(await ahead, false, 'waiting for offset 2: offset 1 does not release it');
});

t.test('wait-for-messages: close releases blocked readers with false', async (t) => {
  const store = await MessageStore.open(tempDir(t, 'tidemq-wait-'), SMALL);
  const waiting = store.waitForMessages('x', 0, 0, 10_000);
  const start = performance.now();
  await store.close();
  t.equal(await waiting, false, 'false');
  t.ok(performance.now() - start < 2000, 'without waiting for the timeout');
});
