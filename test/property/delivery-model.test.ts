/**
 * Model-based test of POP delivery (STYLE.md §11): seeded random interleavings of sends,
 * receives (messages invisible for long, or visible again at once: an expiry), acks one by one
 * and in batches (some with stale handles), changeInvisibleDuration, and restarts (clean, or
 * from the journal alone), against a small model of one queue: candidates in offset order, a
 * message delivered maxDeliveryAttempts times is dead-lettered instead, a handle is valid until
 * its message is acked or given a new handle. Every receive must hand out exactly the messages,
 * attempts and order the model predicts; every ack must succeed or fail as it predicts.
 * Prints its seed; TIDEMQ_SEED replays it.
 */
import t from 'tap';
import type { Broker } from '../../src/broker/broker.js';
import type { SimpleConsumer } from '../../src/broker/simple-consumer.js';
import type { MessageView } from '../../src/broker/types.js';
import { openBroker, tempDir } from '../helpers/broker-env.js';
import { pickSeed, Rng } from '../helpers/rng.js';
import { soak } from '../helpers/store-env.js';

const LONG_MS = 600_000;
const MAX_ATTEMPTS = 3;

interface ModelMessage {
  attempt: number;
  visible: boolean;
  done: boolean;
  /** The handle of the delivery in flight ('' before the first one). */
  handle: string;
}

class Model {
  readonly messages: ModelMessage[] = [];

  send(n: number): void {
    for (let i = 0; i < n; i++) this.messages.push({ attempt: 0, visible: true, done: false, handle: '' });
  }

  /** Offsets and attempts of the next receive of up to `max` (dead-letters as it goes). */
  receive(max: number, invisible: boolean): [number, number][] {
    const out: [number, number][] = [];
    for (let o = 0; o < this.messages.length && out.length < max; o++) {
      const m = this.messages[o]!;
      if (m.done || !m.visible) continue;
      if (m.attempt >= MAX_ATTEMPTS) {
        m.done = true;
        continue;
      }
      m.attempt++;
      m.visible = !invisible;
      out.push([o, m.attempt]);
    }
    return out;
  }

  current(view: MessageView): boolean {
    const m = this.messages[view.offset]!;
    return !m.done && m.handle === view.receiptHandle;
  }
}

async function runSequence(seed: number, steps: number, dir: string): Promise<string> {
  const rng = new Rng(seed);
  const opts = { snapshotIntervalMs: 3_600_000 };
  let broker: Broker = await openBroker(dir, opts);
  broker.createTopic('P', { queues: 1 });
  const consumerOf = (b: Broker): SimpleConsumer =>
    b.simpleConsumer({
      consumerGroup: 'G',
      subscriptions: { P: '*' },
      awaitDuration: 0,
      maxDeliveryAttempts: MAX_ATTEMPTS,
    });
  let consumer = consumerOf(broker);
  const model = new Model();
  /** Views received so far (current or stale), to ack or change at random. */
  let held: MessageView[] = [];
  try {
    for (let step = 0; step < steps; step++) {
      const op = rng.int(100);
      if (op < 15) {
        const n = 1 + rng.int(12);
        const base = model.messages.length;
        await broker
          .producer()
          .sendBatch(Array.from({ length: n }, (_, i) => ({ topic: 'P', body: `m${base + i}` })));
        model.send(n);
        await broker.store.waitForDispatch();
      } else if (op < 45) {
        const max = 1 + rng.int(16);
        const invisible = rng.bool(0.7);
        const want = model.receive(max, invisible);
        const got = await consumer.receive(max, invisible ? LONG_MS : 0, { awaitMs: 0 });
        const g = got.map((v) => [v.offset, v.deliveryAttempt]);
        if (JSON.stringify(g) !== JSON.stringify(want))
          return `step ${step}: receive(${max}) gave ${JSON.stringify(g)}, the model ${JSON.stringify(want)}`;
        for (const v of got) {
          if (v.body.toString() !== `m${v.offset}`) return `step ${step}: offset ${v.offset} body ${v.body}`;
          model.messages[v.offset]!.handle = v.receiptHandle;
        }
        held.push(...got);
      } else if (op < 65 && held.length > 0) {
        const v = rng.pick(held);
        const ok = model.current(v);
        const r = await consumer.ack(v).then(
          () => true,
          () => false,
        );
        if (r !== ok) return `step ${step}: ack of offset ${v.offset} ${r ? 'succeeded' : 'failed'}`;
        if (ok) model.messages[v.offset]!.done = true;
      } else if (op < 80 && held.length > 0) {
        // a batch: in order or shuffled, current handles mostly
        const batch = held.filter((v) => model.current(v) || rng.bool(0.05)).filter(() => rng.bool(0.7));
        if (rng.bool(0.3)) batch.reverse();
        const ok = batch.every((v) => model.current(v));
        const r = await consumer.ackBatch(batch).then(
          () => true,
          () => false,
        );
        if (r !== ok) return `step ${step}: ackBatch of ${batch.length} ${r ? 'succeeded' : 'failed'}`;
        if (ok) for (const v of batch) model.messages[v.offset]!.done = true;
      } else if (op < 92 && held.length > 0) {
        const v = rng.pick(held);
        const ok = model.current(v);
        const invisible = rng.bool(0.5);
        const r = await consumer.changeInvisibleDuration(v, invisible ? LONG_MS : 0).then(
          () => true,
          () => false,
        );
        if (r !== ok)
          return `step ${step}: changeInvisibleDuration of offset ${v.offset} ${r ? 'succeeded' : 'failed'}`;
        if (ok) {
          const m = model.messages[v.offset]!;
          m.handle = v.receiptHandle;
          m.visible = !invisible;
        }
      } else if (op >= 97) {
        if (rng.bool()) await broker.close();
        else {
          // a crash after the last write: no final snapshot, the journal is replayed
          (broker as unknown as { snapshot: () => Promise<void> }).snapshot = async () => {};
          await broker.close();
        }
        broker = await openBroker(dir, opts);
        consumer = consumerOf(broker);
        await broker.store.waitForDispatch();
      }
      if (held.length > 200) held = held.slice(-100);
    }
    return '';
  } finally {
    await broker.close();
  }
}

const base = pickSeed();
const seeds = soak ? 10 : 4;
const steps = soak ? 1500 : 300;
for (let i = 0; i < seeds; i++) {
  const seed = (base + i) >>> 0;
  t.test(
    `delivery-model: ${steps} random receive/ack/change/restart steps agree with the model (seed ${seed})`,
    async (t) => {
      t.comment(`seed ${seed} (replay with TIDEMQ_SEED=${seed})`);
      t.equal(await runSequence(seed, steps, tempDir(t)), '', `seed ${seed}`);
    },
  );
}
