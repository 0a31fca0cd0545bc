// Batch APIs: producer.sendBatch and simpleConsumer.ackBatch (ack of an array) — all or nothing
// on bad input, same semantics as the per-message calls, and durable across a restart.
import t from 'tap';
import { BrokerError } from '../../src/broker/errors.js';
import { MAX_SEND_BATCH } from '../../src/broker/producer.js';
import type { MessageView, SendMessage } from '../../src/broker/types.js';
import { openBroker, tempDir } from '../helpers/broker-env.js';

const body = (i: number): Buffer => Buffer.from(`message-${i}`);

async function receiveAll(
  c: { receive(max: number, invisibleMs: number, o?: { awaitMs?: number }): Promise<MessageView[]> },
  want: number,
  invisibleMs = 60_000,
): Promise<MessageView[]> {
  const out: MessageView[] = [];
  const until = Date.now() + 10_000;
  while (out.length < want && Date.now() < until) {
    out.push(...(await c.receive(256, invisibleMs, { awaitMs: 200 })));
  }
  return out;
}

t.test('sendBatch: receipts in order, every message received once with its fields', async (t) => {
  const dir = tempDir(t);
  const broker = await openBroker(dir);
  t.teardown(() => broker.close());
  broker.createTopic('T', { queues: 3 });
  const p = broker.producer();
  const msgs: SendMessage[] = Array.from({ length: 300 }, (_, i) => ({
    topic: 'T',
    body: body(i),
    tag: i % 2 === 0 ? 'even' : 'odd',
    keys: [`k${i}`],
    properties: { n: String(i) },
  }));
  const receipts = await p.sendBatch(msgs);
  t.equal(receipts.length, 300, 'one receipt per message');
  t.equal(new Set(receipts.map((r) => r.messageId)).size, 300, 'message ids are unique');
  t.same(
    [...new Set(receipts.map((r) => r.queueId))].sort(),
    [0, 1, 2],
    'round-robin over the queues, as send() does',
  );
  const c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { T: 'even' }, awaitDuration: 0 });
  const views = await receiveAll(c, 150);
  t.equal(views.length, 150, 'the tag filter sees the even half');
  const byId = new Map(receipts.map((r, i) => [r.messageId, i]));
  for (const v of views) {
    const i = byId.get(v.messageId);
    t.ok(i !== undefined && i % 2 === 0, 'a received message is one that was sent with tag even');
    if (i === undefined) continue;
    t.equal(v.body.toString(), `message-${i}`);
    t.equal(v.properties.get('n'), String(i));
    t.same(v.keys, [`k${i}`]);
    t.equal(v.queueId, receipts[i]!.queueId);
    t.equal(v.offset, receipts[i]!.offset);
  }
  t.same(await p.sendBatch([]), [], 'an empty batch sends nothing');
});

t.test(
  'sendBatch: one bad message rejects the whole batch with its typed error; nothing written',
  async (t) => {
    const dir = tempDir(t);
    const broker = await openBroker(dir, { maxBodyBytes: 1024 });
    t.teardown(() => broker.close());
    broker.createTopic('T');
    broker.createTopic('F', { type: 'FIFO' });
    const p = broker.producer();
    const good = (i: number): SendMessage => ({ topic: 'T', body: body(i) });
    const cases: [unknown, string][] = [
      [{ topic: 'missing', body: 'x' }, 'TOPIC_NOT_FOUND'],
      [{ topic: 'T', body: '' }, 'MESSAGE_BODY_EMPTY'],
      [{ topic: 'T', body: Buffer.alloc(1025) }, 'MESSAGE_BODY_TOO_LARGE'],
      [{ topic: 'T', body: 'x', tag: 'a|b' }, 'ILLEGAL_MESSAGE_TAG'],
      [{ topic: 'F', body: 'x' }, 'MESSAGE_TYPE_MISMATCH'],
      [{ topic: 'T', body: 'x', delay: -1 }, 'ILLEGAL_DELIVERY_TIME'],
      [null, 'BAD_REQUEST'],
    ];
    const before = broker.store.stats().wrotePosition;
    for (const [bad, code] of cases) {
      const batch = [good(0), good(1), bad as SendMessage, good(3)];
      const err = await p.sendBatch(batch).then(
        () => undefined,
        (e: unknown) => e,
      );
      t.ok(err instanceof BrokerError, `${code}: a BrokerError`);
      t.equal((err as BrokerError).code, code, `${code}: its code`);
      t.match((err as BrokerError).message, /message 2 of the batch/, `${code}: names the message`);
    }
    await t.rejects(p.sendBatch('nope' as never), { code: 'BAD_REQUEST' }, 'not an array');
    await t.rejects(
      p.sendBatch(Array.from({ length: MAX_SEND_BATCH + 1 }, (_, i) => good(i))),
      { code: 'BAD_REQUEST' },
      'too many messages',
    );
    t.equal(broker.store.stats().wrotePosition, before, 'nothing was written by any rejected batch');
    const c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { T: '*' }, awaitDuration: 0 });
    t.same(await c.receive(16, 1000), [], 'nothing to receive');
  },
);

t.test('sendBatch: timed messages wait for their time and can be recalled', async (t) => {
  const dir = tempDir(t);
  const broker = await openBroker(dir);
  t.teardown(() => broker.close());
  broker.createTopic('D', { type: 'DELAY', queues: 2 });
  const p = broker.producer();
  const sentAt = Date.now();
  const receipts = await p.sendBatch([
    { topic: 'D', body: 'soon', delay: 300 },
    { topic: 'D', body: 'recalled', delay: 300 },
  ]);
  t.ok(receipts[0]!.recallHandle.length > 0 && receipts[1]!.recallHandle.length > 0, 'recall handles');
  await p.recall('D', receipts[1]!.recallHandle);
  const c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { D: '*' }, awaitDuration: 0 });
  t.same(await c.receive(16, 1000), [], 'not readable before its time');
  const views = await receiveAll(c, 1);
  t.equal(views.length, 1, 'one delivered');
  t.equal(views[0]!.body.toString(), 'soon', 'the recalled one is not');
  t.ok(Date.now() - sentAt >= 290, 'delivered at its time, not before');
});

t.test('ackBatch: acks every message of a batch; one stale handle acks none', async (t) => {
  const dir = tempDir(t);
  const broker = await openBroker(dir);
  t.teardown(() => broker.close());
  broker.createTopic('T', { queues: 2 });
  const p = broker.producer();
  await p.sendBatch(Array.from({ length: 40 }, (_, i) => ({ topic: 'T', body: body(i) })));
  const c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { T: '*' }, awaitDuration: 0 });
  const views = await receiveAll(c, 40, 300);
  t.equal(views.length, 40);

  // a handle made stale by changeInvisibleDuration poisons the whole batch
  const stale = { receiptHandle: views[5]!.receiptHandle };
  await c.changeInvisibleDuration(views[5]!, 60_000);
  const before = broker.store.stats().wrotePosition;
  await t.rejects(c.ackBatch([...views.slice(0, 5), stale]), { code: 'INVALID_RECEIPT_HANDLE' });
  await t.rejects(c.ackBatch([views[0]!, views[1]!, views[0]!]), { code: 'INVALID_RECEIPT_HANDLE' }, 'twice');
  await t.rejects(c.ackBatch([views[0]!, { receiptHandle: 'nonsense' }]), { code: 'INVALID_RECEIPT_HANDLE' });
  await t.rejects(c.ackBatch([views[0]!, null as never]), { code: 'INVALID_RECEIPT_HANDLE' });
  await t.rejects(c.ackBatch('x' as never), { code: 'BAD_REQUEST' });
  await t.rejects(
    c.ackBatch([stale, views[0]!, views[0]!, { receiptHandle: 'nonsense' }]),
    { code: 'INVALID_RECEIPT_HANDLE', message: /malformed/ },
    'a malformed handle anywhere is reported before a stale or repeated one',
  );
  await t.rejects(c.ackBatch([views[0]!, views[0]!, { receiptHandle: 'nonsense' }]), {
    code: 'INVALID_RECEIPT_HANDLE',
    message: /malformed/,
  });
  t.equal(broker.store.stats().wrotePosition, before, 'no rejected batch wrote anything');

  // views[5] has a new handle (changeInvisibleDuration updated it): ack all 40 in one call
  await c.ack(views);
  await t.rejects(c.ack(views[0]!), { code: 'INVALID_RECEIPT_HANDLE' }, 'acked handles are stale');
  await new Promise((r) => setTimeout(r, 400));
  t.same(await c.receive(64, 1000), [], 'nothing comes back after the invisible time');
  await c.ackBatch([]);
});

for (const snapshot of [true, false]) {
  const how = snapshot ? 'a clean close (snapshot)' : 'the journal alone (no snapshot)';
  t.test(
    `ackBatch and sendBatch survive a restart from ${how}: acked stay acked, in-flight stay in flight`,
    async (t) => {
      const dir = tempDir(t);
      const opts = { snapshotIntervalMs: 3_600_000 };
      let broker = await openBroker(dir, opts);
      broker.createTopic('T', { queues: 2 });
      await broker
        .producer()
        .sendBatch(Array.from({ length: 20 }, (_, i) => ({ topic: 'T', body: body(i) })));
      let c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { T: '*' }, awaitDuration: 0 });
      const views = await receiveAll(c, 20, 60_000);
      t.equal(views.length, 20);
      const acked = views.filter((_, i) => i % 3 !== 0);
      await c.ackBatch(acked);
      if (!snapshot) (broker as unknown as { snapshot: () => Promise<void> }).snapshot = async () => {};
      await broker.close();

      broker = await openBroker(dir, opts);
      t.teardown(() => broker.close());
      c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { T: '*' }, awaitDuration: 0 });
      t.same(await c.receive(64, 1000), [], 'nothing visible: the unacked ones are still in flight');
      await t.rejects(
        c.ackBatch(acked.slice(0, 1)),
        { code: 'INVALID_RECEIPT_HANDLE' },
        'acked before restart',
      );
      // the receive handles of the unacked deliveries are still theirs after the restart
      await c.ackBatch(views.filter((_, i) => i % 3 === 0));
      t.equal(broker.state.get('G', 'T', 0)!.size + broker.state.get('G', 'T', 1)!.size, 0, 'all done');
    },
  );
}
