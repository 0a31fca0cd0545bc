// SimpleConsumer per-call API the gRPC server relies on: receive's awaitMs and abort signal,
// renew (same handle, later visibility), forwardToDeadLetterQueue (idempotent, frees the FIFO
// message group), and a restart keeping what they journaled.
import t from 'tap';
import { openBroker, sleep, tempDir } from '../helpers/broker-env.js';

t.test('simple consumer: receive takes a per-call await time', async (t) => {
  const broker = await openBroker(tempDir(t));
  t.teardown(() => broker.close());
  broker.createTopic('T');
  const c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { T: '*' }, awaitDuration: 30_000 });
  const t0 = Date.now();
  t.same(await c.receive(4, 1000, { awaitMs: 300 }), [], 'nothing');
  const took = Date.now() - t0;
  t.ok(took >= 250 && took < 5000, `held for awaitMs, not awaitDuration (${took} ms)`);
  await t.rejects(c.receive(4, 1000, { awaitMs: -1 }), { code: 'BAD_REQUEST' }, 'a negative await time');
});

t.test('simple consumer: an aborted signal ends a parked receive at once', async (t) => {
  const broker = await openBroker(tempDir(t));
  t.teardown(() => broker.close());
  broker.createTopic('T');
  const c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { T: '*' } });
  const ac = new AbortController();
  const t0 = Date.now();
  const parked = c.receive(4, 1000, { awaitMs: 20_000, signal: ac.signal });
  await sleep(100);
  ac.abort();
  t.same(await parked, [], 'no messages');
  t.ok(Date.now() - t0 < 2000, `returned soon after the abort (${Date.now() - t0} ms)`);
});

t.test('simple consumer: renew keeps the handle and moves the redelivery', async (t) => {
  const dir = tempDir(t);
  let broker = await openBroker(dir);
  broker.createTopic('T');
  await broker.producer().send({ topic: 'T', body: 'x' });
  let c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { T: '*' }, awaitDuration: 2000 });
  const [m] = await c.receive(1, 300);
  await sleep(150);
  await c.renew(m!, 600);
  await sleep(300);
  t.same(await c.receive(1, 300, { awaitMs: 0 }), [], 'still invisible past the first invisible time');
  await broker.close();
  broker = await openBroker(dir);
  t.teardown(() => broker.close());
  c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { T: '*' }, awaitDuration: 0 });
  await c.ack(m!);
  t.pass('the original handle still acks, after a restart too');
  await sleep(700);
  t.same(await c.receive(1, 300, { awaitMs: 300 }), [], 'acked: never redelivered');
  await t.rejects(c.renew(m!, 600), { code: 'INVALID_RECEIPT_HANDLE' }, 'nothing left to renew');
});

t.test('simple consumer: forwardToDeadLetterQueue moves the message and frees its group', async (t) => {
  const broker = await openBroker(tempDir(t));
  t.teardown(() => broker.close());
  broker.createTopic('F', { queues: 1, type: 'FIFO' });
  const p = broker.producer();
  const first = await p.send({ topic: 'F', body: 'poison', messageGroup: 'g', properties: { k: 'v' } });
  const second = await p.send({ topic: 'F', body: 'next', messageGroup: 'g' });
  const c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { F: '*' }, awaitDuration: 200 });
  const [m] = await c.receive(4, 30_000);
  t.equal(m?.messageId, first.messageId);
  t.same(await c.receive(4, 30_000), [], 'the group is blocked while its message is in flight');
  await c.forwardToDeadLetterQueue(m!);
  await c.forwardToDeadLetterQueue(m!);
  t.pass('forwarding twice is fine');
  const [n] = await c.receive(4, 30_000);
  t.equal(n?.messageId, second.messageId, 'the next message of the group');
  await c.ack(n!);
  const dlq = broker.simpleConsumer({
    consumerGroup: 'reader',
    subscriptions: { '%DLQ%G': '*' },
    awaitDuration: 1000,
  });
  const dead = await dlq.receive(4, 30_000);
  t.equal(dead.length, 1, 'one copy in %DLQ%G');
  t.equal(dead[0]?.messageId, first.messageId, 'same message id');
  t.equal(dead[0]?.body.toString(), 'poison', 'same body');
  t.equal(dead[0]?.properties.get('k'), 'v', 'same properties');
  await t.rejects(c.ack(m!), { code: 'INVALID_RECEIPT_HANDLE' }, 'the forwarded handle is spent');
});
