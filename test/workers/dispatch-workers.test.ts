// Worker-thread safety of dispatch: stores opened and closed again and again with one and two
// Piscina workers (the addon loaded in each), workers exit cleanly, and the main thread's live
// mappings do not grow from cycle to cycle once collected.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { MessageStore } from '../../src/store/message-store.js';
import { tempDir } from '../helpers/native-env.js';
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
