import t from 'tap';
import { ConsumeResult, type MessageView } from '../../src/broker/types.js';
import { openBroker, sleep, tempDir } from '../helpers/broker-env.js';

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(5);
  return cond();
}

t.test('push: listener SUCCESS acks every message once', async (t) => {
  const broker = await openBroker(tempDir(t));
  t.teardown(() => broker.close());
  broker.createTopic('T', { queues: 4 });
  const p = broker.producer();
  for (let i = 0; i < 50; i++) await p.send({ topic: 'T', body: String(i) });
  const seen: string[] = [];
  const push = broker.pushConsumer({
    consumerGroup: 'G',
    subscriptions: { T: '*' },
    longPollingTimeout: 200,
    messageListener: (m) => {
      seen.push(m.body.toString());
      return ConsumeResult.SUCCESS;
    },
  });
  t.ok(await until(() => seen.length >= 50, 5000));
  await sleep(300);
  await push.close();
  t.equal(seen.length, 50);
  t.equal(new Set(seen).size, 50);
});

t.test('push: FAILURE retries with the backoff ladder and deliveryAttempt + 1', async (t) => {
  const broker = await openBroker(tempDir(t));
  t.teardown(() => broker.close());
  broker.createTopic('T', { queues: 1 });
  await broker.producer().send({ topic: 'T', body: 'x' });
  const times: number[] = [];
  const attempts: number[] = [];
  const push = broker.pushConsumer({
    consumerGroup: 'G',
    subscriptions: { T: '*' },
    longPollingTimeout: 200,
    retryBackoffMs: [100, 300],
    messageListener: (m) => {
      times.push(Date.now());
      attempts.push(m.deliveryAttempt);
      return attempts.length < 3 ? ConsumeResult.FAILURE : ConsumeResult.SUCCESS;
    },
  });
  t.ok(await until(() => attempts.length >= 3, 5000));
  await sleep(200);
  await push.close();
  t.same(attempts, [1, 2, 3]);
  const gap1 = times[1]! - times[0]!;
  const gap2 = times[2]! - times[1]!;
  t.comment(`retry gaps: ${gap1} ms, ${gap2} ms`);
  t.ok(gap1 >= 95 && gap1 < 600, 'first retry after ~100 ms');
  t.ok(gap2 >= 295 && gap2 < 900, 'second retry after ~300 ms');
});

t.test('dlq: after max attempts the message goes to %DLQ%<group> with the same id', async (t) => {
  const broker = await openBroker(tempDir(t));
  t.teardown(() => broker.close());
  broker.createTopic('T', { queues: 1 });
  const sent = await broker.producer().send({ topic: 'T', body: 'poison', properties: { k: 'v' } });
  await broker.producer().send({ topic: 'T', body: 'fine' });
  let deliveries = 0;
  const ok: string[] = [];
  const push = broker.pushConsumer({
    consumerGroup: 'G',
    subscriptions: { T: '*' },
    longPollingTimeout: 200,
    maxDeliveryAttempts: 3,
    retryBackoffMs: [20],
    messageListener: (m: MessageView) => {
      if (m.body.toString() === 'poison') {
        deliveries++;
        return ConsumeResult.FAILURE;
      }
      ok.push(m.body.toString());
      return ConsumeResult.SUCCESS;
    },
  });
  const dlq = broker.simpleConsumer({
    consumerGroup: 'D',
    subscriptions: { '%DLQ%G': '*' },
    awaitDuration: 5000,
  });
  const [dead] = await dlq.receive(1, 10_000);
  await push.close();
  t.equal(deliveries, 3, 'delivered maxDeliveryAttempts times');
  t.same(ok, ['fine']);
  t.equal(dead!.messageId, sent.messageId);
  t.equal(dead!.body.toString(), 'poison');
  t.equal(dead!.properties.get('k'), 'v');
  t.equal(broker.consumerOffset('G', 'T', 0), 2, 'the dead message is done for the group');
});

t.test('dlq: simple consumers dead-letter too when attempts run out', async (t) => {
  const broker = await openBroker(tempDir(t));
  t.teardown(() => broker.close());
  broker.createTopic('T', { queues: 1 });
  await broker.producer().send({ topic: 'T', body: 'x' });
  const c = broker.simpleConsumer({
    consumerGroup: 'G',
    subscriptions: { T: '*' },
    awaitDuration: 300,
    maxDeliveryAttempts: 2,
  });
  t.equal((await c.receive(1, 50)).length, 1);
  t.equal((await c.receive(1, 50))[0]?.deliveryAttempt, 2);
  await sleep(60);
  t.same(await c.receive(1, 50), []);
  t.ok(broker.getTopic('%DLQ%G'));
});

t.test(
  'push: a listener slower than the invisible duration keeps its message (invisibility renewed)',
  async (t) => {
    const broker = await openBroker(tempDir(t));
    t.teardown(() => broker.close());
    broker.createTopic('T', { queues: 1 });
    await broker.producer().send({ topic: 'T', body: 'slow' });
    const attempts: number[] = [];
    let finished = false;
    const push = broker.pushConsumer({
      consumerGroup: 'G',
      subscriptions: { T: '*' },
      longPollingTimeout: 200,
      invisibleDurationMs: 300,
      messageListener: async (m) => {
        attempts.push(m.deliveryAttempt);
        await sleep(1500);
        finished = true;
        return ConsumeResult.SUCCESS;
      },
    });
    t.ok(await until(() => attempts.length === 1, 5000), 'the listener got the message');
    // Another consumer of the group polls for longer than the listener runs: five invisible
    // durations. Without renewal it would get the message after 300 ms.
    const other = broker.simpleConsumer({
      consumerGroup: 'G',
      subscriptions: { T: '*' },
      awaitDuration: 1700,
    });
    const stolen = await other.receive(16, 10_000);
    t.same(
      stolen.map((m) => m.body.toString()),
      [],
      'not redelivered to another consumer while the listener works',
    );
    t.ok(await until(() => finished, 3000), 'the listener finished');
    await sleep(100);
    t.same(attempts, [1], 'delivered once');
    t.ok(push.renewals >= 3, `invisibility renewed while consuming (${push.renewals} times)`);
    t.same(push.errors, [], 'the ack with the renewed handle succeeded');
    const after = broker.simpleConsumer({
      consumerGroup: 'G',
      subscriptions: { T: '*' },
      awaitDuration: 600,
    });
    t.same(await after.receive(16, 10_000), [], 'acked: never redelivered');
    await push.close();
  },
);
