import t from 'tap';
import { TransactionResolution } from '../../src/broker/types.js';
import { openBroker, sleep, tempDir } from '../helpers/broker-env.js';

t.test('transaction: half message invisible until commit; rollback discards', async (t) => {
  const broker = await openBroker(tempDir(t));
  t.teardown(() => broker.close());
  broker.createTopic('X', { type: 'TRANSACTION', queues: 1 });
  const p = broker.producer();
  const c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { X: '*' }, awaitDuration: 200 });
  const tx = p.beginTransaction();
  const r = await p.send({ topic: 'X', body: 'commit-me' }, tx);
  t.ok(r.transactionId.length > 0);
  t.same(await c.receive(), [], 'invisible before commit');
  await tx.commit();
  t.same(
    (await c.receive()).map((m) => m.body.toString()),
    ['commit-me'],
  );
  const tx2 = p.beginTransaction();
  await p.send({ topic: 'X', body: 'roll-me-back' }, tx2);
  await tx2.rollback();
  await t.rejects(tx2.commit(), { code: 'TRANSACTION_ALREADY_RESOLVED' });
  t.same(await c.receive(16, 60_000), [], 'rolled back: never delivered');
  await t.rejects(p.send({ topic: 'X', body: 'no tx' }), { code: 'MESSAGE_TYPE_MISMATCH' });
});

t.test('transaction: check-back through the checker after the timeout commits', async (t) => {
  const broker = await openBroker(tempDir(t), { transactionTimeoutMs: 200, transactionCheckIntervalMs: 100 });
  t.teardown(() => broker.close());
  broker.createTopic('X', { type: 'TRANSACTION' });
  let calls = 0;
  let seenBody = '';
  const p = broker.producer({
    checker: {
      check: (view) => {
        calls++;
        seenBody = view.body.toString();
        return calls < 2 ? TransactionResolution.UNKNOWN : TransactionResolution.COMMIT;
      },
    },
  });
  const sent = Date.now();
  const r = await p.send({ topic: 'X', body: 'orphan' }, p.beginTransaction());
  const c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { X: '*' }, awaitDuration: 3000 });
  const [m] = await c.receive();
  t.equal(m!.messageId, r.messageId);
  t.equal(calls, 2, 'UNKNOWN, then COMMIT');
  t.equal(seenBody, 'orphan');
  t.ok(Date.now() - sent >= 290, 'first check after the timeout, second after the interval');
});

t.test('transaction: after the maximum number of checks the half message is rolled back', async (t) => {
  const broker = await openBroker(tempDir(t), {
    transactionTimeoutMs: 50,
    transactionCheckIntervalMs: 30,
    transactionMaxChecks: 3,
  });
  t.teardown(() => broker.close());
  broker.createTopic('X', { type: 'TRANSACTION' });
  let calls = 0;
  const p = broker.producer({
    checker: {
      check: () => {
        calls++;
        return TransactionResolution.UNKNOWN;
      },
    },
  });
  await p.send({ topic: 'X', body: 'orphan' }, p.beginTransaction());
  const end = Date.now() + 3000;
  while (broker.transactions.size > 0 && Date.now() < end) await sleep(10);
  t.equal(broker.transactions.size, 0, 'resolved');
  t.equal(calls, 3);
  const c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { X: '*' }, awaitDuration: 200 });
  t.same(await c.receive(), []);
});

t.test('transaction: ending by id names the topic; another topic cannot end it', async (t) => {
  const broker = await openBroker(tempDir(t));
  t.teardown(() => broker.close());
  broker.createTopic('X', { type: 'TRANSACTION', queues: 1 });
  broker.createTopic('Y', { type: 'TRANSACTION', queues: 1 });
  const p = broker.producer();
  const c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { X: '*' }, awaitDuration: 200 });
  const tx = p.beginTransaction();
  const r = await p.send({ topic: 'X', body: 'mine' }, tx);
  await t.rejects(p.endTransaction(r.transactionId, 'rollback', 'Y'), { code: 'INVALID_TRANSACTION_ID' });
  t.same(await c.receive(), [], 'still pending: not delivered, not discarded');
  await p.endTransaction(r.transactionId, 'commit', 'X');
  t.same(
    (await c.receive()).map((m) => m.body.toString()),
    ['mine'],
    'committed under its own topic',
  );
});
