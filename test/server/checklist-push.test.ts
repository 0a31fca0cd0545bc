// rocketmq-grpc-v2.md §8 checklist, with the official rocketmq-client-nodejs PushConsumer over
// loopback: items 17 (standard push), 18 (nack → redelivery), 19 (max attempts → %DLQ%<group>,
// read back with a SimpleConsumer), and the auto-renew lease a push receive gets (a listener
// slower than the lease is not redelivered). Push consumers are told a 2 s long poll, so their
// shutdown (which waits for parked polls) stays short.
import { ConsumeResult, type MessageView } from 'rocketmq-client-nodejs';
import t from 'tap';
import { sleep } from '../helpers/broker-env.js';
import { receiveN, startHarness, until } from '../helpers/official-client.js';

t.test('checklist: push consumers', async (t) => {
  const h = await startHarness(t, {
    groups: { 'g-dlq': { maxDeliveryAttempts: 3 } },
    pushLongPollingMs: 2000,
    leaseMs: 3000,
  });
  const producer = await h.producer({ topic: ['push', 'nack', 'dlq', 'slow'] });

  await t.test('item 17: every message consumed once, shutdown resolves', async (t) => {
    const ids: string[] = [];
    for (let i = 0; i < 10; i++)
      ids.push((await producer.send({ topic: 'push', body: Buffer.from(`p${i}`) })).messageId);
    const seen = new Map<string, number>();
    const consumer = await h.push({
      consumerGroup: 'g-push',
      subscriptions: new Map([['push', '*']]),
      messageListener: {
        consume(m: MessageView) {
          seen.set(m.messageId, (seen.get(m.messageId) ?? 0) + 1);
          return ConsumeResult.SUCCESS;
        },
      },
    });
    await until(() => seen.size === ids.length, 15_000, 'all ten messages');
    await sleep(2500); // a redelivery, if any, would come now
    t.same([...seen.keys()].sort(), [...ids].sort(), 'all ten');
    t.ok(
      [...seen.values()].every((n) => n === 1),
      'each once',
    );
    const t0 = Date.now();
    await h.shutdown(consumer);
    t.comment(`push shutdown took ${Date.now() - t0} ms`);
    await until(
      () => !h.server.sessions.list().some((s) => s.clientId === consumer.clientId),
      5000,
      'the server to drop the session (termination and Telemetry end)',
    );
  });

  await t.test('item 18: a failed message comes back with deliveryAttempt 2', async (t) => {
    const receipt = await producer.send({ topic: 'nack', body: Buffer.from('retry me') });
    const attempts: number[] = [];
    await h.push({
      consumerGroup: 'g-nack',
      subscriptions: new Map([['nack', '*']]),
      messageListener: {
        consume(m: MessageView) {
          if (m.messageId !== receipt.messageId) return ConsumeResult.SUCCESS;
          attempts.push(m.deliveryAttempt ?? 0);
          return attempts.length === 1 ? ConsumeResult.FAILURE : ConsumeResult.SUCCESS;
        },
      },
    });
    await until(() => attempts.length >= 2, 15_000, 'the redelivery');
    await sleep(1000);
    t.same(attempts, [1, 2], 'consumed again, attempt 2, then acked');
  });

  await t.test('item 19: always failing → max attempts deliveries, then the DLQ', async (t) => {
    const receipt = await producer.send({ topic: 'dlq', body: Buffer.from('poison'), tag: 'x' });
    const attempts: number[] = [];
    await h.push({
      consumerGroup: 'g-dlq',
      subscriptions: new Map([['dlq', '*']]),
      messageListener: {
        consume(m: MessageView) {
          attempts.push(m.deliveryAttempt ?? 0);
          return ConsumeResult.FAILURE;
        },
      },
    });
    const dlq = await h.simple('g-dlq-reader', '%DLQ%g-dlq');
    const [dead] = await receiveN(dlq, 1, 15_000, 20_000);
    t.equal(dead?.messageId, receipt.messageId, 'in %DLQ%g-dlq with the same message id');
    t.equal(dead?.body.toString(), 'poison', 'same body');
    t.equal(dead?.tag, 'x', 'same tag');
    await dlq.ack(dead!);
    await sleep(1000);
    t.same(attempts, [1, 2, 3], 'three deliveries, no fourth');
  });

  await t.test('auto-renew: a listener slower than the lease is not redelivered', async (t) => {
    const receipt = await producer.send({ topic: 'slow', body: Buffer.from('slow') });
    const calls: number[] = [];
    await h.push({
      consumerGroup: 'g-slow',
      subscriptions: new Map([['slow', '*']]),
      messageListener: {
        async consume(m: MessageView) {
          calls.push(m.deliveryAttempt ?? 0);
          await sleep(7000); // over two leases
          return ConsumeResult.SUCCESS;
        },
      },
    });
    await until(() => calls.length >= 1, 15_000, 'the first delivery');
    await sleep(9000);
    t.same(calls, [1], 'one delivery: the lease was renewed while the listener ran');
    const c = await h.simple('g-slow', 'slow', '*', 1000);
    t.same(await c.receive(16, 1000), [], `acked (${receipt.messageId})`);
  });
});
