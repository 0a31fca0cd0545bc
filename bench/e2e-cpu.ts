/**
 * The broker's end-to-end loop without the bench's latency stamping and duplicate check:
 * sendBatch of 256 → 4 × receive(256) → ackBatch, at most 64 batches unacked, flat out. Prints the
 * rate and the CPU per message — the main thread's (from /proc, Linux) and the whole process's —
 * to see where the e2e scenario's ceiling is.
 *
 *   node dist/bench/e2e-cpu.js [messages=2000000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Broker } from '../src/broker/broker.js';
import type { SendMessage } from '../src/broker/types.js';
import { mainThreadCpuUs } from './measure.js';

const BATCH = 256;
const WINDOW = 64 * BATCH;
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 2_000_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tidemq-e2e-cpu-'));
  const broker = await Broker.open(dir, { maxInvisibleMs: 3_600_000 });
  broker.createTopic('bench', { queues: 4 });
  const producer = broker.producer();
  const consumer = broker.simpleConsumer({
    consumerGroup: 'g',
    subscriptions: { bench: '*' },
    awaitDuration: 100,
  });
  const template = Buffer.alloc(100, 7);
  let sent = 0;
  let acked = 0;
  let stop = false;
  const consume = async (): Promise<void> => {
    while (!stop) {
      const views = await consumer.receive(BATCH, 600_000);
      const n = views.length;
      if (n > 0)
        consumer.ackBatch(views).then(() => {
          acked += n;
        });
    }
  };
  const run = async (n: number): Promise<void> => {
    const target = sent + n;
    while (sent < target) {
      const room = Math.min(BATCH, WINDOW - (sent - acked), target - sent);
      if (room > 0) {
        const msgs: SendMessage[] = new Array(room);
        for (let i = 0; i < room; i++) {
          const body = Buffer.from(template);
          body.writeUInt32LE(sent++, 8);
          msgs[i] = { topic: 'bench', body };
        }
        void producer.sendBatch(msgs);
      }
      await tick();
    }
    while (acked < sent) await tick();
  };
  const consumers = [consume(), consume(), consume(), consume()];
  await run(300_000); // warm-up: JIT, first segment pages
  const main0 = mainThreadCpuUs();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run(total);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const main1 = mainThreadCpuUs();
  const perMsg = (us: number): number => Math.round((us / total) * 1000) / 1000;
  console.log(
    JSON.stringify({
      messages: total,
      msgPerSec: Math.round((total / ms) * 1000),
      mainThreadCpuUsPerMsg: main0 < 0 ? null : perMsg(main1 - main0),
      processCpuUsPerMsg: perMsg(cpu.user + cpu.system),
    }),
  );
  stop = true;
  await Promise.race([Promise.all(consumers), new Promise((r) => setTimeout(r, 500))]);
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
}

await main();
