import { readdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { BrokerError } from '../../src/broker/errors.js';
import { openBroker, tempDir } from '../helpers/broker-env.js';

t.test('errors: bad input gets typed errors and writes nothing', async (t) => {
  const dir = tempDir(t);
  const broker = await openBroker(dir, { maxBodyBytes: 1024 });
  t.teardown(() => broker.close());
  broker.createTopic('T');
  broker.createTopic('F', { type: 'FIFO' });
  const p = broker.producer();
  const before = broker.store.stats().wrotePosition;
  const cases: [Parameters<typeof p.send>[0], string][] = [
    [{ topic: 'missing', body: 'x' }, 'TOPIC_NOT_FOUND'],
    [{ topic: 'bad topic', body: 'x' }, 'ILLEGAL_TOPIC'],
    [{ topic: 'rmq_sys_wheel_timer', body: 'x' }, 'ILLEGAL_TOPIC'],
    [{ topic: 'T', body: '' }, 'MESSAGE_BODY_EMPTY'],
    [{ topic: 'T', body: Buffer.alloc(1025) }, 'MESSAGE_BODY_TOO_LARGE'],
    [{ topic: 'T', body: 'x', tag: 'a|b' }, 'ILLEGAL_MESSAGE_TAG'],
    [{ topic: 'T', body: 'x', tag: ' ' }, 'ILLEGAL_MESSAGE_TAG'],
    [{ topic: 'T', body: 'x', keys: ['a b'] }, 'ILLEGAL_MESSAGE_KEY'],
    [{ topic: 'T', body: 'x', properties: { TAGS: 'x' } }, 'ILLEGAL_MESSAGE_PROPERTY_KEY'],
    [{ topic: 'T', body: 'x', properties: { a: 'x'.repeat(17_000) } }, 'MESSAGE_PROPERTIES_TOO_LARGE'],
    [{ topic: 'T', body: 'x', messageGroup: 'g' }, 'MESSAGE_TYPE_MISMATCH'],
    [{ topic: 'F', body: 'x' }, 'MESSAGE_TYPE_MISMATCH'],
    [{ topic: 'F', body: 'x', messageGroup: 'g'.repeat(64) }, 'ILLEGAL_MESSAGE_GROUP'],
    [{ topic: 'T', body: 'x', delay: -1 }, 'ILLEGAL_DELIVERY_TIME'],
    [{ topic: 'T', body: 'x', delay: 1, delayLevel: 1 }, 'ILLEGAL_DELIVERY_TIME'],
  ];
  for (const [msg, code] of cases) {
    const err = await p.send(msg).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof BrokerError, `${code}: a BrokerError`);
    t.equal((err as BrokerError).code, code, JSON.stringify(msg).slice(0, 80));
  }
  t.equal(broker.store.stats().wrotePosition, before, 'nothing written');
  t.throws(() => broker.createTopic('T2', { queues: 0 }), { code: 'BAD_REQUEST' });
  t.throws(() => broker.createTopic('T3', { type: 'WEIRD' as never }), { code: 'BAD_REQUEST' });
  t.throws(() => broker.simpleConsumer({ consumerGroup: 'bad group', subscriptions: { T: '*' } }), {
    code: 'ILLEGAL_CONSUMER_GROUP',
  });
  t.throws(() => broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { missing: '*' } }), {
    code: 'TOPIC_NOT_FOUND',
  });
  const c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { T: '*' } });
  await t.rejects(c.receive(0), { code: 'BAD_REQUEST' });
  await t.rejects(c.receive(1, -1), { code: 'ILLEGAL_INVISIBLE_TIME' });
  await t.rejects(c.ack({ receiptHandle: 'nonsense' } as never), { code: 'INVALID_RECEIPT_HANDLE' });
  await t.rejects(c.ack({ receiptHandle: '1.0.0.T' } as never), { code: 'INVALID_RECEIPT_HANDLE' });
  t.ok(readdirSync(path.join(dir, 'config')).includes('topics.json'));
});

t.test('topics: types and queue counts persist; auto-create makes MIXED topics', async (t) => {
  const dir = tempDir(t);
  let broker = await openBroker(dir);
  broker.createTopic('F', { type: 'FIFO', queues: 3 });
  await broker.close();
  broker = await openBroker(dir, { autoCreateTopics: true });
  t.teardown(() => broker.close());
  t.same(broker.getTopic('F'), { name: 'F', type: 'FIFO', queues: 3 });
  const r = await broker.producer().send({ topic: 'auto', body: 'x', messageGroup: 'g' });
  t.equal(broker.getTopic('auto')?.type, 'MIXED');
  t.ok(r.queueId < 4);
});

t.test('selectors: round-robin cycles, least-loaded evens out, functions are checked', async (t) => {
  const broker = await openBroker(tempDir(t));
  t.teardown(() => broker.close());
  broker.createTopic('T', { queues: 4 });
  const rr = broker.producer();
  const qs: number[] = [];
  for (let i = 0; i < 8; i++) qs.push((await rr.send({ topic: 'T', body: 'x' })).queueId);
  t.same(qs, [0, 1, 2, 3, 0, 1, 2, 3]);
  const pin = broker.producer({ queueSelector: () => 2 });
  for (let i = 0; i < 4; i++) await pin.send({ topic: 'T', body: 'x' });
  await broker.store.waitForDispatch();
  const ll = broker.producer({ queueSelector: 'least-loaded' });
  const picked: number[] = [];
  for (let i = 0; i < 4; i++) picked.push((await ll.send({ topic: 'T', body: 'x' })).queueId);
  t.notOk(picked.includes(2), 'least-loaded avoids the loaded queue');
  const rnd = broker.producer({ queueSelector: 'random' });
  for (let i = 0; i < 20; i++) t.ok((await rnd.send({ topic: 'T', body: 'x' })).queueId < 4);
  const bad = broker.producer({ queueSelector: () => 9 });
  await t.rejects(bad.send({ topic: 'T', body: 'x' }), { code: 'BAD_REQUEST' });
});

t.test('priority: higher priority is delivered first among visible messages', async (t) => {
  const broker = await openBroker(tempDir(t));
  t.teardown(() => broker.close());
  broker.createTopic('P', { type: 'PRIORITY', queues: 2 });
  const p = broker.producer();
  for (let i = 0; i < 10; i++) await p.send({ topic: 'P', body: `low${i}`, priority: 1 });
  await p.send({ topic: 'P', body: 'high', priority: 9 });
  await p.send({ topic: 'P', body: 'mid', priority: 5 });
  await broker.store.waitForDispatch();
  const c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { P: '*' }, awaitDuration: 100 });
  const first = await c.receive(2, 60_000);
  t.same(
    first.map((m) => m.body.toString()),
    ['high', 'mid'],
  );
  t.equal(first[0]!.priority, 9);
  const rest = await c.receive(32, 60_000);
  t.equal(rest.length, 10, 'the held low-priority messages follow');
  await t.rejects(p.send({ topic: 'P', body: 'x', priority: -1 }), { code: 'ILLEGAL_PRIORITY' });
});
