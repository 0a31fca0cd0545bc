// Receipt handles are checked against the delivery they name: a forged handle with sequence -1
// (what the in-flight state reports for a held, done or never-delivered offset) is malformed, and
// names no delivery; it acks, renews and dead-letters nothing and writes no journal record.
import t from 'tap';
import { JOURNAL_TOPIC } from '../../src/broker/journal.js';
import { openBroker, tempDir } from '../helpers/broker-env.js';

t.test('handles: sequence -1 is refused everywhere and writes nothing', async (t) => {
  const broker = await openBroker(tempDir(t));
  t.teardown(() => broker.close());
  broker.createTopic('F', { queues: 1, type: 'FIFO' });
  const p = broker.producer();
  await p.send({ topic: 'F', body: Buffer.from('a'), messageGroup: 'G' });
  await p.send({ topic: 'F', body: Buffer.from('b'), messageGroup: 'G' });
  await broker.store.waitForDispatch();
  const c = broker.simpleConsumer({ consumerGroup: 'g', subscriptions: { F: '*' }, awaitDuration: 0 });
  const [first] = await c.receive(2, 60_000);
  t.equal(first?.body.toString(), 'a', 'the first of the group is in flight; the second is held');
  const journal = () => broker.store.maxOffset(JOURNAL_TOPIC, 0);
  await broker.store.waitForDispatch();
  const before = journal();
  for (const h of ['-1.0.1.F', '-1.0.0.F', '-1.0.5.F']) {
    await t.rejects(c.ack({ receiptHandle: h }), { code: 'INVALID_RECEIPT_HANDLE' }, `ack ${h}`);
    await t.rejects(c.renew({ receiptHandle: h }, 1000), { code: 'INVALID_RECEIPT_HANDLE' }, `renew ${h}`);
    await t.rejects(
      c.changeInvisibleDuration({ receiptHandle: h }, 0),
      { code: 'INVALID_RECEIPT_HANDLE' },
      `changeInvisibleDuration ${h}`,
    );
  }
  await broker.store.waitForDispatch();
  t.equal(journal(), before, 'no journal record was written');
  await c.ack(first!);
  const [second] = await c.receive(2, 60_000);
  t.equal(second?.body.toString(), 'b', 'the held message is still delivered after its group frees');
});
