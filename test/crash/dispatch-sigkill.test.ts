// SIGKILL during heavy appends and dispatch, then reopen: every queue holds exactly the commit
// log's records of that queue, in order, none lost or duplicated, and every key is found.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { MessageStore } from '../../src/store/message-store.js';
import { tempDir } from '../helpers/native-env.js';
import { Rng, SMALL, soak } from '../helpers/store-env.js';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'dispatch-child.js');

function runAndKill(dir: string, flush: string, round: number, killAfterMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, dir, flush, String(round)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', (d) => {
      err += d;
    });
    p.stdout.on('data', (d) => {
      if (String(d).includes('ready')) setTimeout(() => p.kill('SIGKILL'), killAfterMs);
    });
    p.on('exit', (code, signal) =>
      signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited ${code} ${signal}: ${err}`)),
    );
  });
}

t.test('dispatch-sigkill: queues and index agree with the commit log after kill -9', async (t) => {
  const rng = new Rng(t, 'sigkill');
  const dir = tempDir(t, 'tidemq-sigkill-');
  const rounds = soak ? 12 : 4;
  for (let round = 0; round < rounds; round++) {
    const flush = round % 2 === 0 ? 'async' : 'sync';
    const killAfterMs = 30 + rng.int(400);
    await runAndKill(dir, flush, round, killAfterMs);
    const store = await MessageStore.open(dir, { ...SMALL, dispatchWorkers: 2 });
    await store.waitForDispatch();
    const truth = new Map<string, number[]>();
    const keys = new Map<string, number>();
    let records = 0;
    for (const r of store.scan()) {
      records++;
      const q = `${r.topic}\u0000${r.queueId}`;
      const list = truth.get(q) ?? [];
      if (r.queueOffset !== list.length)
        t.fail(`${r.topic}/${r.queueId}: offset ${r.queueOffset} in the log`);
      list.push(r.physicalOffset);
      truth.set(q, list);
      for (const k of r.keys) if (k.startsWith(`r${round}k`)) keys.set(`${r.topic}#${k}`, r.physicalOffset);
    }
    let bad = 0;
    for (const [q, want] of truth) {
      const [topic, id] = q.split('\u0000') as [string, string];
      const got = store.read(topic, Number(id), 0, 1_000_000).map((r) => r.physicalOffset);
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        bad++;
        t.same(got.length, want.length, `round ${round}: ${topic}/${id} entries`);
      }
      if (store.maxOffset(topic, Number(id)) !== want.length) bad++;
    }
    let missing = 0;
    for (const [tk, phys] of keys) {
      const [topic, key] = tk.split('#') as [string, string];
      if (!store.queryByKey(topic, key).some((r) => r.physicalOffset === phys)) missing++;
    }
    const stats = store.stats();
    t.comment(
      `round ${round} (${flush}, kill after ${killAfterMs} ms): ${records} records, ${truth.size} queues, ` +
        `${keys.size} keys of this round, recovery ${stats.recovery.rule} truncated ${stats.recovery.truncatedBytes} B`,
    );
    t.equal(bad, 0, `round ${round}: every queue equals the commit log (seed ${rng.seed})`);
    t.equal(missing, 0, `round ${round}: every key of the round is found`);
    t.equal(stats.dispatchLagBytes, 0, `round ${round}: dispatch caught up`);
    await store.close();
  }
});
