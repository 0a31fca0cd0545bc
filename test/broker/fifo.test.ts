import t from 'tap';
import { queueForMessageGroup } from '../../src/broker/queue-selector.js';
import { ConsumeResult } from '../../src/broker/types.js';
import { openBroker, rng, seedFrom, sleep, tempDir } from '../helpers/broker-env.js';

t.test('fifo: a message group maps to one stable queue', async (t) => {
  t.equal(queueForMessageGroup('g1', 8), queueForMessageGroup('g1', 8));
  const broker = await openBroker(tempDir(t));
  t.teardown(() => broker.close());
  broker.createTopic('F', { queues: 8, type: 'FIFO' });
  const p = broker.producer();
  const qs = new Set<number>();
  for (let i = 0; i < 10; i++) qs.add((await p.send({ topic: 'F', body: 'x', messageGroup: 'g1' })).queueId);
  t.equal(qs.size, 1);
  await t.rejects(p.send({ topic: 'F', body: 'x' }), { code: 'MESSAGE_TYPE_MISMATCH' });
});

t.test(
  'fifo: while a group has a message in flight no later one is delivered; other groups flow',
  async (t) => {
    const broker = await openBroker(tempDir(t));
    t.teardown(() => broker.close());
    broker.createTopic('F', { queues: 1, type: 'FIFO' });
    const p = broker.producer();
    for (let i = 0; i < 3; i++) {
      await p.send({ topic: 'F', body: `g1-${i}`, messageGroup: 'g1' });
      await p.send({ topic: 'F', body: `g2-${i}`, messageGroup: 'g2' });
    }
    await broker.store.waitForDispatch();
    const c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { F: '*' }, awaitDuration: 100 });
    const first = await c.receive(16, 60_000);
    t.same(
      first.map((m) => m.body.toString()),
      ['g1-0', 'g2-0'],
      'one per group',
    );
    t.same(await c.receive(16, 60_000), [], 'both groups blocked');
    await c.ack(first[1]!);
    const next = await c.receive(16, 60_000);
    t.same(
      next.map((m) => m.body.toString()),
      ['g2-1'],
      'g2 flows while g1 waits',
    );
    await c.changeInvisibleDuration(first[0]!, 0);
    const re = await c.receive(16, 60_000);
    t.same(
      re.map((m) => [m.body.toString(), m.deliveryAttempt]),
      [['g1-0', 2]],
      'g1 redelivers its first message',
    );
  },
);

t.test('fifo: strict order per group under concurrent push consumers with failures', async (t) => {
  const seed = seedFrom(t);
  const random = rng(seed);
  const broker = await openBroker(tempDir(t));
  t.teardown(() => broker.close());
  broker.createTopic('F', { queues: 4, type: 'FIFO' });
  const p = broker.producer();
  const groups = 8;
  const perGroup = 40;
  for (let i = 0; i < perGroup; i++) {
    for (let g = 0; g < groups; g++) await p.send({ topic: 'F', body: `${g}:${i}`, messageGroup: `g${g}` });
  }
  const consumed = new Map<string, number[]>();
  const inFlight = new Set<string>();
  let violations = 0;
  const listener = async (m: { body: Buffer; messageGroup?: string }) => {
    const [g, i] = m.body.toString().split(':');
    if (inFlight.has(g!)) violations++;
    inFlight.add(g!);
    await sleep(random() * 3);
    inFlight.delete(g!);
    if (random() < 0.1) return ConsumeResult.FAILURE;
    const list = consumed.get(g!) ?? [];
    list.push(Number(i));
    consumed.set(g!, list);
    return ConsumeResult.SUCCESS;
  };
  const opts = {
    consumerGroup: 'G',
    subscriptions: { F: '*' },
    longPollingTimeout: 200,
    retryBackoffMs: [5],
    consumptionThreadCount: 8,
  };
  const pushes = [1, 2, 3].map(() => broker.pushConsumer({ ...opts, messageListener: listener }));
  const end = Date.now() + 20_000;
  while ([...consumed.values()].reduce((a, l) => a + l.length, 0) < groups * perGroup && Date.now() < end)
    await sleep(20);
  await Promise.all(pushes.map((x) => x.close()));
  t.equal(violations, 0, 'never two messages of one group in flight');
  for (let g = 0; g < groups; g++) {
    t.same(
      consumed.get(String(g)),
      Array.from({ length: perGroup }, (_, i) => i),
      `group g${g} in send order`,
    );
  }
});
