// Worker-thread safety of dispatch: stores opened and closed again and again with one and two
// Piscina workers (the addon loaded in each), workers exit cleanly, and the main thread's live
// mappings do not grow from cycle to cycle once collected.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { MessageStore } from '../../src/store/message-store.js';
import { tempDir, threadNames } from '../helpers/native-env.js';
import { SMALL } from '../helpers/store-env.js';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'store-cycle-child.js');

t.test('dispatch-workers: open and close with 1 and 2 workers repeatedly', async (t) => {
  const dir = tempDir(t, 'tidemq-workers-');
  for (let i = 0; i < 6; i++) {
    const workers = 1 + (i % 2);
    const store = await MessageStore.open(dir, { ...SMALL, dispatchWorkers: workers });
    for (let j = 0; j < 200; j++) store.append({ topic: 'cycle', queueId: j % 5, body: `b${i}-${j}` });
    await store.waitForDispatch();
    t.equal(store.stats().dispatchWorkers, workers, `cycle ${i}: ${workers} worker(s)`);
    const names = threadNames();
    if (names) {
      const named = names.filter((n) => n === 'tidemq-dispatch').length;
      // at least: a closed store's worker may still be on its way out
      t.ok(named >= workers, `cycle ${i}: ${named} thread(s) named tidemq-dispatch (top -H, perf)`);
    }
    t.equal(store.maxOffset('cycle', 0), (i + 1) * 40, `cycle ${i}: queue 0 holds every cycle's messages`);
    await store.close();
  }
});

t.test('dispatch-workers: live mappings stay bounded after gc (--expose-gc child)', async (t) => {
  const dir = tempDir(t, 'tidemq-workers-');
  const out = execFileSync(process.execPath, ['--expose-gc', child, dir, '8'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  const { samples } = JSON.parse(out.trim()) as { samples: number[] };
  t.comment(`live mappings after each cycle: ${samples.join(' ')}`);
  t.equal(samples.length, 8, 'every cycle ran and the child exited cleanly');
  const later = samples.slice(2);
  t.ok(Math.max(...later) <= samples[1]! + 2, 'no growth from cycle to cycle');
});

t.test('dispatch-workers: the dispatch loop follows the log across segments and idle spells', async (t) => {
  const dir = tempDir(t, 'tidemq-workers-');
  const store = await MessageStore.open(dir, { ...SMALL, dispatchWorkers: 2 });
  t.teardown(() => store.close());
  const body = Buffer.alloc(3000, 1);
  let sent = 0;
  // ~1.5 MiB per round: every round crosses into a new 1 MiB segment (BLANK padding at the end)
  for (let round = 0; round < 4; round++) {
    const batch = Array.from({ length: 500 }, (_, i) => ({ topic: 'loop', queueId: i % 3, body }));
    store.appendBatch(batch);
    sent += batch.length;
    // long enough for the loops to go from polling to blocked-and-announced sleep (HOT_MS)
    if (round % 2 === 1) await new Promise((r) => setTimeout(r, 120));
    const woke = await store.waitForMessages('loop', 0, Math.ceil(sent / 3) - 1, 5000);
    t.ok(woke, `round ${round}: the last message of queue 0 became readable`);
  }
  await store.waitForDispatch();
  let total = 0;
  for (let q = 0; q < 3; q++) total += store.maxOffset('loop', q);
  t.equal(total, sent, 'every record was dispatched exactly once');
  const last = store.read('loop', 2, store.maxOffset('loop', 2) - 1, 1)[0];
  t.equal(last?.body.length, 3000, 'the last entry of a queue points at its record in the last segment');
});

t.test('dispatch-workers: a failed dispatch loop is restarted and catches up', async (t) => {
  const dir = tempDir(t, 'tidemq-workers-');
  const store = await MessageStore.open(dir, { ...SMALL, dispatchWorkers: 1 });
  t.teardown(() => store.close());
  store.append({ topic: 'ok', body: 'first' });
  await store.waitForDispatch();
  // A file where the topic's consume queue directory must go: creating the queue fails.
  const blocker = path.join(dir, 'consumequeue', 'blocked');
  writeFileSync(blocker, 'not a directory');
  store.append({ topic: 'blocked', body: 'waits' });
  store.append({ topic: 'ok', body: 'behind it' });
  await new Promise((r) => setTimeout(r, 300));
  t.match(
    String(store.stats().dispatchError),
    /blocked|ENOTDIR|EEXIST|not a directory/i,
    'the failure is reported',
  );
  t.equal(store.maxOffset('blocked', 0), 0, 'nothing past the failure is dispatched');
  rmSync(blocker);
  t.ok(
    await store.waitForMessages('ok', 0, 1, 5000),
    'after the cause is gone the loop restarts and catches up',
  );
  // (a queue's count is shared memory; a queue new to this reader shows once its message is in)
  t.ok(await store.waitForMessages('blocked', 0, 0, 5000), 'the blocked topic is dispatched');
  t.equal(store.maxOffset('blocked', 0), 1, 'the blocked topic is dispatched once');
  t.equal(store.maxOffset('ok', 0), 2, 'records re-walked after the restart are not dispatched twice');
  t.equal(store.stats().dispatchError, undefined, 'the error clears');
});
