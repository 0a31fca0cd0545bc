/**
 * Server load: several producers and several SimpleConsumers of the official client against
 * `tidemq serve` (the CLI, a child process, so server and clients use both cores). The consumers
 * of one group share the messages: each message is received and acked exactly once (the invisible
 * time is longer than the run, so nothing may come back), every ack succeeds, and the counts add
 * up: sent = received = acked. A second group receives every message too, also exactly once.
 *
 * Default 4 producers × 500 messages; TIDEMQ_SOAK=1 sends 4 × 5000.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Producer, SimpleConsumer } from 'rocketmq-client-nodejs';
import t from 'tap';
import { verifyStore } from '../../src/cli/verify.js';
import { tempDir } from '../helpers/fs.js';
import { soak } from '../helpers/rng.js';
import { startServe } from '../helpers/serve-child.js';

const PRODUCERS = 4;
const PER_PRODUCER = soak ? 5000 : 500;
const SENDS_IN_FLIGHT = 8;
const GROUP_CONSUMERS = 3;
const TOPIC = 'load-orders';
const INVISIBLE_MS = 120_000;
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

interface Received {
  messageId: string;
  body: Buffer;
  deliveryAttempt?: number;
}

interface ConsumerTally {
  /** messageId → times received. */
  received: Map<string, number>;
  acked: number;
  ackFailures: string[];
  /** messageId → body as received. */
  bodies: Map<string, string>;
}

t.test('server load: producers and a consumer group; each message acked exactly once', async (t) => {
  const dir = tempDir(t);
  const server = await startServe(dir, 0);
  t.teardown(() => {
    if (server.child.child.exitCode === null) server.child.child.kill('SIGKILL');
  });
  const endpoints = `127.0.0.1:${server.port}`;
  const clients: { shutdown(): Promise<unknown> }[] = [];
  t.teardown(async () => {
    for (const c of clients) await c.shutdown().catch(() => {});
  });

  const consumerOf = async (group: string): Promise<SimpleConsumer> => {
    const c = new SimpleConsumer({
      endpoints,
      namespace: '',
      consumerGroup: group,
      subscriptions: new Map([[TOPIC, '*']]),
      awaitDuration: 1000,
      logger: quiet,
    });
    await c.startup();
    clients.push(c);
    return c;
  };
  const producers: Producer[] = [];
  for (let i = 0; i < PRODUCERS; i++) {
    const p = new Producer({ endpoints, namespace: '', topics: [TOPIC], logger: quiet });
    await p.startup();
    clients.push(p);
    producers.push(p);
  }
  const group: SimpleConsumer[] = [];
  for (let i = 0; i < GROUP_CONSUMERS; i++) group.push(await consumerOf('load-g'));
  const everything = await consumerOf('load-all');

  const total = PRODUCERS * PER_PRODUCER;
  const bodies = new Map<string, string>();
  const sendFailures: string[] = [];
  const started = Date.now();
  let sendsDoneMs = 0;

  const produce = async (p: Producer, index: number): Promise<void> => {
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let n = next++; n < PER_PRODUCER; n = next++) {
        const body = `p${index}-m${n}`;
        try {
          const r = await p.send({ topic: TOPIC, body: Buffer.from(body), keys: [body] });
          bodies.set(r.messageId, body);
        } catch (err) {
          sendFailures.push(`${body}: ${(err as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: SENDS_IN_FLIGHT }, worker));
  };

  let stop = false;
  const consume = async (c: SimpleConsumer, tally: ConsumerTally): Promise<void> => {
    while (!stop) {
      let got: Received[];
      try {
        got = (await c.receive(32, INVISIBLE_MS)) as unknown as Received[];
      } catch (err) {
        tally.ackFailures.push(`receive: ${(err as Error).message}`);
        await sleep(100);
        continue;
      }
      // the batch is acked concurrently, as an application with a worker pool would
      await Promise.all(
        got.map(async (m) => {
          tally.received.set(m.messageId, (tally.received.get(m.messageId) ?? 0) + 1);
          tally.bodies.set(m.messageId, m.body.toString());
          try {
            await c.ack(m as never);
            tally.acked++;
          } catch (err) {
            tally.ackFailures.push(`ack ${m.messageId}: ${(err as Error).message}`);
          }
        }),
      );
    }
  };
  const tally = (): ConsumerTally => ({ received: new Map(), acked: 0, ackFailures: [], bodies: new Map() });
  const groupTallies = group.map(tally);
  const allTally = tally();
  const consumers = [...group.map((c, i) => consume(c, groupTallies[i]!)), consume(everything, allTally)];

  await Promise.all(producers.map((p, i) => produce(p, i)));
  sendsDoneMs = Date.now() - started;
  const receivedByGroup = (): number => groupTallies.reduce((n, x) => n + x.received.size, 0);
  const deadline = Date.now() + 45_000;
  while ((receivedByGroup() < bodies.size || allTally.received.size < bodies.size) && Date.now() < deadline) {
    await sleep(100);
  }
  // a little longer: a duplicate delivery would show up now
  await sleep(1500);
  stop = true;
  await Promise.all(consumers);
  const consumedMs = Date.now() - started;

  const groupCounts = new Map<string, number>();
  for (const x of groupTallies)
    for (const [id, n] of x.received) groupCounts.set(id, (groupCounts.get(id) ?? 0) + n);
  const duplicates = [...groupCounts].filter(([, n]) => n > 1).map(([id]) => id);
  const missing = [...bodies.keys()].filter((id) => !groupCounts.has(id));
  const unknown = [...groupCounts.keys()].filter((id) => !bodies.has(id));
  const acked = groupTallies.reduce((n, x) => n + x.acked, 0);
  t.comment(
    `${total} sends in ${sendsDoneMs} ms (${Math.round((total / sendsDoneMs) * 1000)}/s), all consumed in ${consumedMs} ms; ` +
      `group load-g: ${groupTallies.map((x) => x.received.size).join(' + ')} received, ${acked} acked; ` +
      `group load-all: ${allTally.received.size} received`,
  );

  t.same(sendFailures.slice(0, 5), [], 'every send resolved');
  t.equal(bodies.size, total, 'sent: every message has its own id');
  t.same(missing.slice(0, 5), [], 'load-g: every message received');
  t.same(duplicates.slice(0, 5), [], 'load-g: no message received twice');
  t.same(unknown.slice(0, 5), [], 'load-g: nothing that was not sent');
  t.equal(acked, total, 'load-g: sent = acked');
  t.same(
    groupTallies.flatMap((x) => x.ackFailures).slice(0, 5),
    [],
    'load-g: every receive and ack succeeded',
  );
  for (const [i, x] of groupTallies.entries()) t.ok(x.received.size > 0, `consumer ${i} got a share`);
  const wrongBodies = [...groupTallies, allTally].flatMap((x) =>
    [...x.bodies].filter(([id, body]) => bodies.get(id) !== body).map(([id]) => id),
  );
  t.same(wrongBodies.slice(0, 5), [], 'bodies as sent');

  const allDuplicates = [...allTally.received].filter(([, n]) => n > 1).length;
  t.equal(allTally.received.size, total, 'load-all: every message received');
  t.equal(allDuplicates, 0, 'load-all: none twice');
  t.equal(allTally.acked, total, 'load-all: sent = acked');
  t.same(allTally.ackFailures.slice(0, 5), [], 'load-all: every receive and ack succeeded');

  for (const c of clients.splice(0)) await c.shutdown().catch(() => {});
  server.child.child.kill('SIGTERM');
  t.equal((await server.child.exited).code, 0, 'server shut down cleanly');
  const report = verifyStore(dir);
  t.same(report.problems, [], `tidemq verify: ${report.records} records, sound`);
});
