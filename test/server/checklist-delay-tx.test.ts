// rocketmq-grpc-v2.md §8 checklist with the official rocketmq-client-nodejs over loopback:
// items 11 (delay), 12 (recall), 14 (transaction commit), 15 (rollback) and 16 (check-back
// through recover_orphaned_transaction_command on the sender's Telemetry stream, answered with
// EndTransaction), plus an unresolved transaction rolled back after the broker's last check.
// The broker checks after 2 s, then every 1 s, at most 2 times.
import type { MessageView } from 'rocketmq-client-nodejs';
import t from 'tap';
import { sleep } from '../helpers/broker-env.js';
import { receiveN, startHarness, until } from '../helpers/official-client.js';

/** apache.rocketmq.v2.TransactionResolution, as the client's checker returns it. */
const COMMIT = 1 as never;
const UNSPECIFIED = 0 as never;

t.test('checklist: delay, recall, transactions', async (t) => {
  const h = await startHarness(t, {
    broker: { transactionTimeoutMs: 2000, transactionCheckIntervalMs: 1000, transactionMaxChecks: 2 },
  });

  await t.test('items 11 and 12: a delayed message waits; a recalled one never comes', async (t) => {
    const producer = await h.producer({ topic: ['delayed', 'recalled'] });
    const sentAt = Date.now();
    const receipt = await producer.send({ topic: 'delayed', body: Buffer.from('later'), delay: 3000 });
    t.ok(receipt.recallHandle.length > 0, 'item 11: a recall handle');
    const doomed = await producer.send({ topic: 'recalled', body: Buffer.from('never'), delay: 3000 });
    const recalled = await producer.recallMessage('recalled', doomed.recallHandle);
    t.equal(recalled.messageId, doomed.messageId, 'item 12: the recall names the message');
    await t.rejects(
      producer.recallMessage('recalled', doomed.recallHandle),
      'item 12: recalling again fails',
    );

    const c = await h.simple('g-delay', 'delayed', '*', 1000);
    t.same(await c.receive(16, 15_000), [], 'item 11: not receivable at once');
    const [m] = await receiveN(c, 1, 15_000, 10_000);
    const after = Date.now() - sentAt;
    t.equal(m?.messageId, receipt.messageId, 'item 11: received after the delay');
    t.ok(after >= 2900, `item 11: not before the delivery time (${after} ms)`);
    t.ok(
      m?.deliveryTimestamp instanceof Date &&
        Math.abs(m.deliveryTimestamp.getTime() - (sentAt + 3000)) < 1000,
      'item 11: deliveryTimestamp is the requested time',
    );
    await c.ack(m!);
    const r = await h.simple('g-recall', 'recalled', '*', 1500);
    t.same(await r.receive(16, 15_000), [], 'item 12: the recalled message is never delivered');
  });

  await t.test('items 14 and 15: commit delivers, rollback discards', async (t) => {
    const checked: string[] = [];
    const producer = await h.producer({
      topic: ['tx'],
      checker: {
        async check(m: MessageView) {
          checked.push(m.messageId);
          return UNSPECIFIED;
        },
      },
    });
    const c = await h.simple('g-tx', 'tx', '*', 500);
    const tx1 = producer.beginTransaction();
    const committed = await producer.send({ topic: 'tx', body: Buffer.from('yes') }, tx1);
    t.ok(committed.transactionId, 'a transaction id');
    t.same(await c.receive(16, 15_000), [], 'item 14: invisible before commit');
    await tx1.commit();
    const [m] = await receiveN(c, 1, 15_000);
    t.equal(m?.messageId, committed.messageId, 'item 14: delivered after commit');
    t.equal(m?.body.toString(), 'yes');
    await c.ack(m!);

    const tx2 = producer.beginTransaction();
    await producer.send({ topic: 'tx', body: Buffer.from('no') }, tx2);
    await tx2.rollback();
    await sleep(500);
    t.same(await c.receive(16, 15_000), [], 'item 15: never delivered after rollback');
    t.equal(h.server.broker.transactions.size, 0, 'nothing pending');
  });

  await t.test('item 16: check-back reaches the sender, COMMIT delivers', async (t) => {
    const checks: { who: string; id: string; body: string; at: number }[] = [];
    const checker = (who: string, answer: never) => ({
      async check(m: MessageView) {
        checks.push({ who, id: m.messageId, body: m.body.toString(), at: Date.now() });
        return answer;
      },
    });
    const owner = await h.producer({ topic: ['orphans'], checker: checker('owner', COMMIT) });
    const bystander = await h.producer({ topic: ['orphans'], checker: checker('bystander', COMMIT) });
    const sentAt = Date.now();
    const receipt = await owner.send(
      { topic: 'orphans', body: Buffer.from('orphan') },
      owner.beginTransaction(),
    );
    const c = await h.simple('g-orphans', 'orphans', '*', 1000);
    const [m] = await receiveN(c, 1, 15_000, 10_000);
    t.equal(m?.messageId, receipt.messageId, 'delivered after the checker committed');
    t.equal(checks.length, 1, 'one check');
    t.equal(checks[0]?.who, 'owner', 'the check went to the producer that sent it');
    t.equal(checks[0]?.id, receipt.messageId, 'the checker saw the message id');
    t.equal(checks[0]?.body, 'orphan', 'and the body');
    const took = (checks[0]?.at ?? 0) - sentAt;
    t.ok(took >= 1500 && took < 6000, `checked after the transaction timeout (${took} ms)`);
    await c.ack(m!);
    t.ok(bystander, 'the bystander producer was connected all along');
  });

  await t.test('unresolved: checked the broker’s maximum number of times, then rolled back', async (t) => {
    let calls = 0;
    const producer = await h.producer({
      topic: ['undecided'],
      checker: {
        async check() {
          calls++;
          return UNSPECIFIED;
        },
      },
    });
    await producer.send({ topic: 'undecided', body: Buffer.from('?') }, producer.beginTransaction());
    await until(() => h.server.broker.transactions.size === 0, 10_000, 'the rollback');
    t.equal(calls, 2, 'two checks (transactionMaxChecks)');
    const c = await h.simple('g-undecided', 'undecided', '*', 1000);
    t.same(await c.receive(16, 15_000), [], 'never delivered');
  });
});
