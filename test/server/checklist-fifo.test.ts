// rocketmq-grpc-v2.md §8 checklist, FIFO with the official rocketmq-client-nodejs over loopback:
// item 13 (SimpleConsumer: per message group in send order, a group blocked while its message is
// in flight, other groups flowing) and item 20 (FIFO PushConsumer: the group's `fifo` config
// reaches the client in Settings; in order, one at a time per group; always failing → local
// attempts 1..max, then ForwardMessageToDeadLetterQueue, and the group moves on).
import { ConsumeResult, type MessageView } from 'rocketmq-client-nodejs';
import t from 'tap';
import { sleep } from '../helpers/broker-env.js';
import { receiveN, startHarness, until } from '../helpers/official-client.js';

t.test('checklist: FIFO', async (t) => {
  const h = await startHarness(t, {
    groups: {
      'g-order': { fifo: true },
      'g-fifo': { fifo: true, maxDeliveryAttempts: 3 },
      'g-fifo-dlq': { fifo: true, maxDeliveryAttempts: 3 },
    },
    pushLongPollingMs: 2000,
  });
  const producer = await h.producer({ topic: ['ordered', 'push-ordered', 'push-poison'] });
  const sendGroups = async (
    topic: string,
    perGroup: number,
    groups: string[],
  ): Promise<Map<string, string[]>> => {
    const sent = new Map<string, string[]>(groups.map((g) => [g, []]));
    for (let i = 0; i < perGroup; i++) {
      for (const g of groups) {
        const r = await producer.send({ topic, body: Buffer.from(`${g}-${i}`), messageGroup: g });
        sent.get(g)!.push(r.messageId);
      }
    }
    return sent;
  };

  await t.test('item 13: SimpleConsumer, send order per group, a busy group is held', async (t) => {
    const sent = await sendGroups('ordered', 10, ['g1', 'g2']);
    const c = await h.simple('g-order', 'ordered', '*', 1000);
    const got = new Map<string, string[]>([
      ['g1', []],
      ['g2', []],
    ]);
    // Hold the first g1 message unacked while g2 drains.
    const until = Date.now() + 20_000;
    let held: MessageView | undefined;
    while (!held && Date.now() < until) {
      for (const m of await c.receive(16, 30_000)) {
        if (m.messageGroup === 'g1' && !held) held = m;
        else {
          got.get(m.messageGroup ?? '')?.push(m.messageId);
          await c.ack(m);
        }
      }
    }
    t.equal(held?.messageId, sent.get('g1')![0], 'g1 starts with its first message');
    got.get('g1')!.push(held!.messageId);
    while (got.get('g2')!.length < 10 && Date.now() < until) {
      for (const m of await c.receive(16, 30_000)) {
        t.not(m.messageGroup, 'g1', 'no later g1 message while the first is in flight');
        got.get(m.messageGroup ?? '')?.push(m.messageId);
        await c.ack(m);
      }
    }
    t.same(got.get('g2'), sent.get('g2'), 'g2 flowed in send order meanwhile');
    await c.ack(held!);
    while (got.get('g1')!.length < 10 && Date.now() < until) {
      const batch = await c.receive(16, 30_000);
      t.ok(batch.length <= 1, 'one g1 message at a time');
      for (const m of batch) {
        got.get(m.messageGroup ?? '')?.push(m.messageId);
        await c.ack(m);
      }
    }
    t.same(got.get('g1'), sent.get('g1'), 'g1 in send order after its first was acked');
  });

  await t.test('item 20: FIFO push, in order and one at a time per group', async (t) => {
    const sent = await sendGroups('push-ordered', 10, ['a', 'b']);
    const got = new Map<string, string[]>([
      ['a', []],
      ['b', []],
    ]);
    const busy = new Set<string>();
    let overlaps = 0;
    const consumer = await h.push({
      consumerGroup: 'g-fifo',
      subscriptions: new Map([['push-ordered', '*']]),
      messageListener: {
        async consume(m: MessageView) {
          const g = m.messageGroup ?? '';
          if (busy.has(g)) overlaps++;
          busy.add(g);
          await sleep(5);
          got.get(g)?.push(m.messageId);
          busy.delete(g);
          return ConsumeResult.SUCCESS;
        },
      },
    });
    t.ok(consumer.getPushConsumerSettings().isFifo(), 'the group’s fifo setting reached the client');
    t.equal(consumer.getRetryPolicy()?.getMaxAttempts(), 3, 'max attempts from the group config');
    await until(() => got.get('a')!.length + got.get('b')!.length >= 20, 20_000, 'twenty messages');
    t.same(got.get('a'), sent.get('a'), 'group a in send order');
    t.same(got.get('b'), sent.get('b'), 'group b in send order');
    t.equal(overlaps, 0, 'never two messages of one group at once');
  });

  await t.test('item 20: FIFO push, always failing → DLQ, then the next of the group', async (t) => {
    const sent = await sendGroups('push-poison', 2, ['p']);
    const [poison, next] = sent.get('p')!;
    const attempts: number[] = [];
    const done: string[] = [];
    await h.push({
      consumerGroup: 'g-fifo-dlq',
      subscriptions: new Map([['push-poison', '*']]),
      messageListener: {
        consume(m: MessageView) {
          if (m.messageId === poison) {
            attempts.push(m.deliveryAttempt ?? 0);
            return ConsumeResult.FAILURE;
          }
          done.push(m.messageId);
          return ConsumeResult.SUCCESS;
        },
      },
    });
    await until(() => done.length >= 1, 15_000, 'the next message of the group');
    t.same(attempts, [1, 2, 3], 'attempts 1..max, retried by the client');
    t.same(done, [next], 'then the next message of the group');
    const dlq = await h.simple('g-fifo-dlq-reader', '%DLQ%g-fifo-dlq');
    const [dead] = await receiveN(dlq, 1, 15_000);
    t.equal(dead?.messageId, poison, 'the poison message is in %DLQ%g-fifo-dlq');
    t.equal(dead?.body.toString(), 'p-0', 'with its body');
    await dlq.ack(dead!);
  });
});
