// Producer records: every kind of message is stored with the same properties, in the same order,
// as before the send path wrote a plain message's id from the record's uniqKey — through send()
// and through sendBatch() alike.
import t from 'tap';
import { HALF_TOPIC, TIMER_TOPIC } from '../../src/broker/journal.js';
import type { SendMessage, SendReceipt } from '../../src/broker/types.js';
import { openBroker, tempDir } from '../helpers/broker-env.js';
import { seededRng } from '../helpers/rng.js';

const ID = /^01000000000000[0-9A-F]{20}$/;

interface Case {
  name: string;
  msg: SendMessage;
  /** Topic the record lands in (timed: the timer topic). */
  storedIn: string;
  names: string[];
}

const cases = (past: number): Case[] => [
  { name: 'plain', msg: { topic: 'M', body: 'a' }, storedIn: 'M', names: ['UNIQ_KEY'] },
  {
    name: 'tag, keys, properties',
    msg: { topic: 'M', body: 'b', tag: 't', keys: ['k1', 'k2'], properties: { x: '1', y: 'é' } },
    storedIn: 'M',
    names: ['TAGS', 'KEYS', 'x', 'y', 'UNIQ_KEY'],
  },
  {
    name: 'own message id',
    msg: { topic: 'M', body: 'c', messageId: 'MY-ID', properties: new Map([['z', '2']]) },
    storedIn: 'M',
    names: ['z', 'UNIQ_KEY'],
  },
  {
    name: 'FIFO',
    msg: { topic: 'M', body: 'd', tag: 't', messageGroup: 'g', properties: { x: '1' } },
    storedIn: 'M',
    names: ['TAGS', 'x', 'UNIQ_KEY', '__SHARDINGKEY'],
  },
  {
    name: 'priority',
    msg: { topic: 'M', body: 'e', priority: 3 },
    storedIn: 'M',
    names: ['UNIQ_KEY', '__PRIORITY'],
  },
  {
    name: 'delay',
    msg: { topic: 'M', body: 'f', delay: 60_000 },
    storedIn: TIMER_TOPIC,
    names: ['UNIQ_KEY', 'TIMER_DELIVER_MS', 'REAL_TOPIC', 'REAL_QID'],
  },
  {
    name: 'delay level',
    msg: { topic: 'M', body: 'g', delayLevel: 3, properties: { x: '1' } },
    storedIn: TIMER_TOPIC,
    names: ['x', 'UNIQ_KEY', 'TIMER_DELIVER_MS', 'DELAY', 'REAL_TOPIC', 'REAL_QID'],
  },
  {
    name: 'delivery time already past',
    msg: { topic: 'M', body: 'h', deliveryTimestamp: past },
    storedIn: 'M',
    names: ['UNIQ_KEY', 'TIMER_DELIVER_MS'],
  },
];

t.test('producer: each kind of message keeps its stored properties and their order', async (t) => {
  const broker = await openBroker(tempDir(t));
  t.teardown(() => broker.close());
  broker.createTopic('M', { type: 'MIXED', queues: 2 });
  const p = broker.producer();
  const past = Date.now() - 1000;
  const list = cases(past);
  const sent = [];
  for (const c of list) sent.push(await p.send(c.msg));
  sent.push(...(await p.sendBatch(list.map((c) => c.msg))));
  const tx = p.beginTransaction();
  const txReceipt = await p.send({ topic: 'M', body: 'tx', tag: 't' }, tx);

  const records = [...broker.store.scan()].filter(
    (r) => r.topic === 'M' || r.topic === TIMER_TOPIC || r.topic === HALF_TOPIC,
  );
  t.equal(records.length, 2 * list.length + 1, 'one record per send');
  for (let i = 0; i < 2 * list.length; i++) {
    const c = list[i % list.length]!;
    const how = i < list.length ? 'send' : 'sendBatch';
    const rec = records[i]!;
    const receipt = sent[i]!;
    t.equal(rec.topic, c.storedIn, `${c.name} (${how}): stored in ${c.storedIn}`);
    t.same(Object.keys(rec.properties), c.names, `${c.name} (${how}): properties in order`);
    t.equal(rec.properties.UNIQ_KEY, receipt.messageId, `${c.name} (${how}): UNIQ_KEY is the receipt's id`);
    if (c.msg.messageId === undefined) t.match(receipt.messageId, ID, `${c.name} (${how}): a generated id`);
    t.equal(receipt.topic, 'M');
    if (c.storedIn === 'M') {
      t.equal(rec.queueId, receipt.queueId, `${c.name} (${how}): queue`);
      t.equal(rec.queueOffset, receipt.offset, `${c.name} (${how}): queue offset`);
      t.equal(receipt.recallHandle, '', `${c.name} (${how}): no recall handle`);
    } else {
      t.equal(rec.properties.REAL_QID, String(receipt.queueId), `${c.name} (${how}): real queue`);
      t.ok(receipt.recallHandle.length > 0, `${c.name} (${how}): a recall handle`);
    }
    t.equal(rec.body.toString(), String(c.msg.body));
  }
  const half = records[records.length - 1]!;
  t.equal(half.topic, HALF_TOPIC, 'the transactional message is a half message');
  t.same(
    Object.keys(half.properties),
    ['TAGS', 'UNIQ_KEY', 'REAL_TOPIC', 'REAL_QID', 'TRAN_MSG', 'PGROUP'],
    'transactional: properties in order',
  );
  t.equal(half.properties.UNIQ_KEY, txReceipt.messageId);
  t.equal(txReceipt.transactionId, half.msgId, 'the transaction id is the half record offset id');
  const generated = sent.filter((r) => r.messageId !== 'MY-ID').map((r) => r.messageId);
  t.equal(new Set(generated).size, generated.length, 'generated ids are unique');
});

t.test('producer: a queue selector that sends from inside a batch does not disturb it', async (t) => {
  const broker = await openBroker(tempDir(t));
  t.teardown(() => broker.close());
  broker.createTopic('N', { queues: 3 });
  broker.createTopic('S', { queues: 1 });
  const nested: Promise<unknown>[] = [];
  let calls = 0;
  const p = broker.producer({
    queueSelector: (msg, queues) => {
      calls++;
      if (msg.topic === 'N' && calls % 2 === 0) {
        nested.push(inner.send({ topic: 'S', body: `single-${calls}` }));
        nested.push(inner.sendBatch([{ topic: 'S', body: `batch-${calls}`, tag: 'x' }]));
      }
      return calls % queues;
    },
  });
  const inner = p; // the same producer, re-entered
  const receipts = await p.sendBatch(
    Array.from({ length: 10 }, (_, i) => ({ topic: 'N', body: `m${i}`, properties: { i: String(i) } })),
  );
  await Promise.all(nested);
  t.equal(nested.length, 10, 'the selector sent from inside the batch');
  const byId = new Map([...broker.store.scan()].map((r) => [r.properties.UNIQ_KEY, r]));
  for (let i = 0; i < 10; i++) {
    const rec = byId.get(receipts[i]!.messageId);
    t.ok(rec, `message ${i}: stored under its receipt's id`);
    t.equal(rec?.topic, 'N');
    t.equal(rec?.properties.i, String(i), `message ${i}: its own properties`);
    t.equal(rec?.queueId, receipts[i]!.queueId, `message ${i}: its queue`);
    t.equal(rec?.queueOffset, receipts[i]!.offset, `message ${i}: its offset`);
  }
  t.equal([...broker.store.scan()].filter((r) => r.topic === 'S').length, 10, 'and every nested send');
});

t.test('producer: send() and sendBatch() report every error as a rejection, never a throw', async (t) => {
  const broker = await openBroker(tempDir(t));
  t.teardown(() => broker.close());
  broker.createTopic('M');
  const p = broker.producer();
  const other = broker.producer().beginTransaction();
  const calls: [string, () => Promise<unknown>, string][] = [
    ['send(null)', () => p.send(null as never), 'BAD_REQUEST'],
    ['send to a missing topic', () => p.send({ topic: 'nope', body: 'x' }), 'TOPIC_NOT_FOUND'],
    ['send with an empty body', () => p.send({ topic: 'M', body: '' }), 'MESSAGE_BODY_EMPTY'],
    ["send in another producer's transaction", () => p.send({ topic: 'M', body: 'x' }, other), 'BAD_REQUEST'],
    ['sendBatch of a non-array', () => p.sendBatch('nope' as never), 'BAD_REQUEST'],
    ['sendBatch with a bad message', () => p.sendBatch([{ topic: 'M', body: '' }]), 'MESSAGE_BODY_EMPTY'],
  ];
  for (const [what, call, code] of calls) {
    let promise: Promise<unknown> | undefined;
    t.doesNotThrow(() => {
      promise = call();
    }, `${what}: no synchronous throw`);
    await t.rejects(promise!, { code }, `${what}: rejects with ${code}`);
  }
  await p.close();
  await t.rejects(p.send({ topic: 'M', body: 'x' }), { code: 'CLIENT_CLOSED' }, 'send after close');
  await t.rejects(
    p.sendBatch([{ topic: 'M', body: 'x' }]),
    { code: 'CLIENT_CLOSED' },
    'sendBatch after close',
  );
});

t.test('producer: batch receipts say what was stored, whatever mix of messages', async (t) => {
  // Receipts keep a batch's generated ids as its first sequence number when they are consecutive,
  // the topic once when shared, and look a topic up once per run: mixes that break each of these.
  const rng = seededRng(t, 'batch receipts');
  const broker = await openBroker(tempDir(t));
  t.teardown(() => broker.close());
  broker.createTopic('A', { queues: 3 });
  broker.createTopic('B', { queues: 2, type: 'MIXED' });
  broker.createTopic('F', { queues: 2, type: 'FIFO' });
  const p = broker.producer();
  const sent: { receipt: SendReceipt; body: string }[] = [];
  for (let b = 0; b < 40; b++) {
    const n = rng.range(1, 40);
    const mixed = rng.bool(0.5);
    const msgs: SendMessage[] = [];
    for (let i = 0; i < n; i++) {
      const body = `b${b}-m${i}`;
      const r = mixed ? rng.int(8) : 7;
      if (r === 0) msgs.push({ topic: 'A', body, messageId: `OWN-${b}-${i}` });
      else if (r === 1) msgs.push({ topic: 'F', body, messageGroup: `g${rng.int(3)}` });
      else if (r === 2) msgs.push({ topic: 'B', body, priority: rng.int(3) });
      else if (r === 3) msgs.push({ topic: 'B', body, tag: 't' });
      else msgs.push({ topic: 'A', body });
    }
    const receipts = await p.sendBatch(msgs);
    t.equal(receipts.length, n);
    for (let i = 0; i < n; i++) sent.push({ receipt: receipts[i]!, body: msgs[i]!.body as string });
  }
  const byBody = new Map([...broker.store.scan()].map((r) => [r.body.toString(), r]));
  let wrong = 0;
  for (const { receipt, body } of sent) {
    const rec = byBody.get(body);
    const ok =
      rec !== undefined &&
      rec.properties.UNIQ_KEY === receipt.messageId &&
      rec.topic === receipt.topic &&
      rec.queueId === receipt.queueId &&
      rec.queueOffset === receipt.offset &&
      (receipt.messageId.startsWith('OWN-') || ID.test(receipt.messageId));
    if (!ok && wrong++ < 5) t.fail(`${body}: receipt ${JSON.stringify(receipt)} vs stored ${rec?.topic}`);
  }
  t.equal(wrong, 0, `all ${sent.length} receipts match their records`);
  t.equal(new Set(sent.map((s) => s.receipt.messageId)).size, sent.length, 'ids are unique');
});
