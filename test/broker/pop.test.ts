import t from 'tap';
import { BrokerError } from '../../src/broker/errors.js';
import { openBroker, sleep, tempDir } from '../helpers/broker-env.js';

t.test(
  'pop: send, receive, ack; an acked message is not redelivered; a second ack is rejected',
  async (t) => {
    const broker = await openBroker(tempDir(t));
    t.teardown(() => broker.close());
    broker.createTopic('T', { queues: 2 });
    const producer = broker.producer();
    const receipt = await producer.send({
      topic: 'T',
      body: 'hello',
      tag: 'a',
      keys: ['k1'],
      properties: { p: '1' },
    });
    t.match(receipt.messageId, /^01[0-9A-F]{32}$/);
    const c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { T: '*' }, awaitDuration: 2000 });
    const [m, ...rest] = await c.receive(16, 300);
    t.equal(rest.length, 0);
    t.ok(m);
    t.equal(m!.body.toString(), 'hello');
    t.equal(m!.tag, 'a');
    t.same(m!.keys, ['k1']);
    t.equal(m!.properties.get('p'), '1');
    t.equal(m!.messageId, receipt.messageId);
    t.equal(m!.deliveryAttempt, 1);
    await c.ack(m!);
    await sleep(400);
    t.same(await c.receive(16, 300).then((x) => x.length), 0);
    await t.rejects(c.ack(m!), { code: 'INVALID_RECEIPT_HANDLE' });
  },
);

t.test(
  'pop: expiry redelivers with deliveryAttempt + 1 and a new handle; the old handle is stale',
  async (t) => {
    const broker = await openBroker(tempDir(t));
    t.teardown(() => broker.close());
    broker.createTopic('T');
    await broker.producer().send({ topic: 'T', body: 'x' });
    const c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { T: '*' }, awaitDuration: 3000 });
    const [first] = await c.receive(1, 200);
    const t0 = Date.now();
    const [again] = await c.receive(1, 200);
    t.ok(Date.now() - t0 >= 150, 'redelivered only after the invisible time');
    t.equal(again!.messageId, first!.messageId);
    t.equal(again!.deliveryAttempt, 2);
    t.not(again!.receiptHandle, first!.receiptHandle);
    await t.rejects(c.ack(first!), BrokerError);
    await c.ack(again!);
  },
);

t.test(
  'pop: changeInvisibleDuration returns a new handle, invalidates the old, moves redelivery',
  async (t) => {
    const broker = await openBroker(tempDir(t));
    t.teardown(() => broker.close());
    broker.createTopic('T');
    await broker.producer().send({ topic: 'T', body: 'x' });
    const c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { T: '*' }, awaitDuration: 3000 });
    const [m] = await c.receive(1, 60_000);
    const old = m!.receiptHandle;
    await c.changeInvisibleDuration(m!, 100);
    t.not(m!.receiptHandle, old);
    await t.rejects(c.ack({ ...m!, receiptHandle: old }), { code: 'INVALID_RECEIPT_HANDLE' });
    // ack takes a message (or anything with its receiptHandle), not the bare handle text
    await t.rejects(c.ack(m!.receiptHandle as never), { code: 'INVALID_RECEIPT_HANDLE' });
    await t.rejects(c.ack(null as never), { code: 'INVALID_RECEIPT_HANDLE' });
    const t0 = Date.now();
    const [again] = await c.receive(1, 60_000);
    t.ok(Date.now() - t0 < 1000, 'redelivered after the new, shorter time');
    t.equal(again!.deliveryAttempt, 2);
    await c.ack(again!);
  },
);

t.test('pop: tag filters * and a||b; non-matching messages count as done', async (t) => {
  const broker = await openBroker(tempDir(t));
  t.teardown(() => broker.close());
  broker.createTopic('T', { queues: 1 });
  const p = broker.producer();
  for (const tag of ['a', 'b', 'c', 'a']) await p.send({ topic: 'T', body: tag, tag });
  await p.send({ topic: 'T', body: 'none' });
  await broker.store.waitForDispatch();
  const ab = broker.simpleConsumer({
    consumerGroup: 'AB',
    subscriptions: { T: 'a || b' },
    awaitDuration: 200,
  });
  const all = broker.simpleConsumer({ consumerGroup: 'ALL', subscriptions: { T: '*' }, awaitDuration: 200 });
  const got = await ab.receive(32, 10_000);
  t.same(
    got.map((m) => m.tag),
    ['a', 'b', 'a'],
  );
  t.equal((await all.receive(32, 10_000)).length, 5);
  for (const m of got) await ab.ack(m);
  t.equal(broker.consumerOffset('AB', 'T', 0), 5, 'the filtered ones are behind the consumer offset');
});

t.test(
  'pop: long polling returns within a few ms of a matching message, or [] after awaitDuration',
  async (t) => {
    const broker = await openBroker(tempDir(t));
    t.teardown(() => broker.close());
    broker.createTopic('T');
    const c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { T: 'x' }, awaitDuration: 400 });
    let t0 = Date.now();
    t.same(await c.receive(), []);
    t.ok(Date.now() - t0 >= 390, 'waited awaitDuration');
    const c2 = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { T: 'x' }, awaitDuration: 5000 });
    const p = broker.producer();
    t0 = Date.now();
    let sentAt = 0;
    setTimeout(() => {
      p.send({ topic: 'T', body: 'no', tag: 'y' }).then(() =>
        setTimeout(() => {
          sentAt = Date.now();
          p.send({ topic: 'T', body: 'yes', tag: 'x' });
        }, 100),
      );
    }, 100);
    const got = await c2.receive();
    const lag = Date.now() - sentAt;
    t.equal(got[0]!.body.toString(), 'yes');
    t.comment(`long-poll wake-up lag: ${lag} ms`);
    // The store wakes waiters once the record is sealed and dispatched (a few ms idle; more under load).
    t.ok(lag < 250, `woke promptly (${lag} ms)`);
  },
);

t.test(
  'groups: clustering shares messages, broadcasting gives each consumer all, groups are independent',
  async (t) => {
    const broker = await openBroker(tempDir(t));
    t.teardown(() => broker.close());
    broker.createTopic('T', { queues: 4 });
    const p = broker.producer();
    for (let i = 0; i < 40; i++) await p.send({ topic: 'T', body: String(i) });
    const a1 = broker.simpleConsumer({ consumerGroup: 'A', subscriptions: { T: '*' }, awaitDuration: 100 });
    const a2 = broker.simpleConsumer({ consumerGroup: 'A', subscriptions: { T: '*' }, awaitDuration: 100 });
    const b = broker.simpleConsumer({ consumerGroup: 'B', subscriptions: { T: '*' }, awaitDuration: 100 });
    const bc = (id: string) =>
      broker.simpleConsumer({
        consumerGroup: 'C',
        messageModel: 'BROADCASTING',
        clientId: id,
        subscriptions: { T: '*' },
        awaitDuration: 100,
      });
    const c1 = bc('c1');
    const c2 = bc('c2');
    const drain = async (c: ReturnType<typeof bc>) => {
      const out: string[] = [];
      for (;;) {
        const ms = await c.receive(7, 60_000);
        if (ms.length === 0) return out;
        for (const m of ms) {
          out.push(m.body.toString());
          await c.ack(m);
        }
      }
    };
    const [x1, x2] = await Promise.all([drain(a1), drain(a2)]);
    t.equal(x1.length + x2.length, 40, 'clustering: every message once across the group');
    t.equal(new Set([...x1, ...x2]).size, 40);
    t.equal((await drain(b)).length, 40, 'another group sees everything');
    t.equal((await drain(c1)).length, 40, 'broadcasting: consumer 1 sees everything');
    t.equal((await drain(c2)).length, 40, 'broadcasting: consumer 2 sees everything');
  },
);

t.test(
  'groups: new groups start at the earliest retained offset; reset to latest, earliest, timestamp',
  async (t) => {
    const broker = await openBroker(tempDir(t));
    t.teardown(() => broker.close());
    broker.createTopic('T', { queues: 1 });
    const p = broker.producer();
    for (let i = 0; i < 5; i++) await p.send({ topic: 'T', body: String(i) });
    await sleep(20);
    const mid = Date.now();
    await sleep(20);
    for (let i = 5; i < 10; i++) await p.send({ topic: 'T', body: String(i) });
    await broker.store.waitForDispatch();
    const c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { T: '*' }, awaitDuration: 100 });
    const bodies = async () => (await c.receive(32, 60_000)).map((m) => m.body.toString());
    t.same(await bodies(), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    await broker.resetOffset('G', 'T', 'latest');
    t.same(await bodies(), []);
    await broker.resetOffset('G', 'T', mid);
    t.same(await bodies(), ['5', '6', '7', '8', '9']);
    await broker.resetOffset('G', 'T', 'earliest');
    t.equal((await bodies()).length, 10);
  },
);
