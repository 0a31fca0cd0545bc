import t from 'tap';
import { TransactionResolution } from '../../src/broker/types.js';
import { openBroker, tempDir } from '../helpers/broker-env.js';

for (const snapshot of [true, false]) {
  const how = snapshot ? 'after a clean close (snapshot)' : 'from the journal alone (no snapshot)';
  t.test(`restart: in-flight POP, acks, retry, delayed and transaction state survive ${how}`, async (t) => {
    const dir = tempDir(t);
    const opts = {
      snapshotIntervalMs: 3_600_000,
      transactionTimeoutMs: 300,
      transactionCheckIntervalMs: 100,
    };
    let broker = await openBroker(dir, opts);
    broker.createTopic('T', { queues: 2 });
    broker.createTopic('D', { type: 'DELAY' });
    broker.createTopic('X', { type: 'TRANSACTION' });
    const p = broker.producer();
    for (let i = 0; i < 6; i++) await p.send({ topic: 'T', body: `m${i}` });
    await p.send({ topic: 'D', body: 'delayed', delay: 800 });
    const recalled = await p.send({ topic: 'D', body: 'recalled', delay: 800 });
    await p.recall('D', recalled.recallHandle);
    const tx = p.beginTransaction();
    await p.send({ topic: 'X', body: 'pending-tx' }, tx);
    await broker.store.waitForDispatch();
    const c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { T: '*' }, awaitDuration: 100 });
    const got = await c.receive(6, 2500);
    t.equal(got.length, 6);
    const names = got.map((m) => m.body.toString());
    await c.ack(got[0]!);
    await c.ack(got[1]!);
    await c.changeInvisibleDuration(got[2]!, 300); // a retry pending
    const inFlight = got[3]!;
    if (snapshot) await broker.close();
    else {
      // Simulate a crash after the last write: drop the broker without its final snapshot.
      (broker as unknown as { snapshot: () => Promise<void> }).snapshot = async () => {};
      await broker.close();
    }
    broker = await openBroker(dir, opts);
    t.teardown(() => broker.close());
    const c2 = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { T: '*' }, awaitDuration: 3000 });
    await t.rejects(
      c2.ack({ ...inFlight }).then(() => c2.ack(inFlight)),
      { code: 'INVALID_RECEIPT_HANDLE' },
      'a handle stays valid once, then is stale',
    );
    const retry = await c2.receive(6, 60_000);
    t.same(
      retry.map((m) => [m.body.toString(), m.deliveryAttempt]),
      [[names[2], 2]],
      'the retry comes back, acked ones do not',
    );
    const dc = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { D: '*' }, awaitDuration: 2000 });
    t.same(
      (await dc.receive(4, 60_000)).map((m) => m.body.toString()),
      ['delayed'],
      'the timer survived; the recall too',
    );
    const xc = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { X: '*' }, awaitDuration: 200 });
    t.same(await xc.receive(), [], 'the half message is still invisible');
    broker.producer({ checker: { check: () => TransactionResolution.COMMIT } });
    const xc2 = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { X: '*' }, awaitDuration: 3000 });
    t.same(
      (await xc2.receive()).map((m) => m.body.toString()),
      ['pending-tx'],
      'checked back after restart, committed',
    );
    const rest = await c2.receive(6, 60_000);
    t.same(
      rest.map((m) => m.body.toString()).sort(),
      [names[4], names[5]].sort(),
      'unacked in-flight messages come back when they expire',
    );
  });
}
