import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { openBroker, rng, seedFrom, sleep, tempDir } from '../helpers/broker-env.js';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'crash-child.js');
const rounds = process.env.TIDEMQ_SOAK === '1' ? 20 : 3;

t.test(
  'crash: SIGKILL at a random moment loses no unacked message and redelivers no acked one',
  async (t) => {
    const seed = seedFrom(t);
    const random = rng(seed);
    const dir = tempDir(t);
    const sent = new Set<string>();
    const acked = new Set<string>();
    const ackBegun = new Set<string>();
    for (let round = 0; round < rounds; round++) {
      const proc = spawn(process.execPath, [child, dir, String(seed + round)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let buf = '';
      let ready = false;
      proc.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        let i = buf.indexOf('\n');
        while (i >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line === 'ready') ready = true;
          else if (line.startsWith('S ')) sent.add(line.slice(2));
          else if (line.startsWith('A ')) acked.add(line.slice(2));
          else if (line.startsWith('a ')) ackBegun.add(line.slice(2));
          i = buf.indexOf('\n');
        }
      });
      const exited = new Promise((resolve) => proc.on('exit', resolve));
      while (!ready) await sleep(5);
      const killAfter = 200 + Math.floor(random() * 800);
      await sleep(killAfter);
      proc.kill('SIGKILL');
      await exited;
      t.comment(
        `round ${round}: killed after ${killAfter} ms; ${sent.size} sent, ${acked.size} acked so far`,
      );
    }
    const broker = await openBroker(dir);
    t.teardown(() => broker.close());
    // After a crash the consume queues are re-dispatched from the last checkpoint: an empty
    // receive only means "nothing left" once dispatch has caught up with the log.
    await broker.store.waitForDispatch();
    const c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { T: '*' }, awaitDuration: 1500 });
    const received = new Set<string>();
    for (;;) {
      const ms = await c.receive(256, 60_000);
      if (ms.length === 0) break;
      for (const m of ms) received.add(m.messageId);
    }
    const redelivered = [...acked].filter((id) => received.has(id));
    const lost = [...sent].filter((id) => !ackBegun.has(id) && !received.has(id));
    t.comment(`after restart: ${received.size} delivered; ${sent.size - acked.size} sent and not acked`);
    t.same(redelivered, [], 'no acked message is delivered again');
    t.same(lost, [], 'every unacked message is delivered');
    t.ok(sent.size > 0 && acked.size > 0, 'the workload ran');
  },
);
