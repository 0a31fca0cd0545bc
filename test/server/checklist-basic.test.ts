// rocketmq-grpc-v2.md §8 checklist, with the official rocketmq-client-nodejs over loopback:
// items 2–10, 21, 22 and 26 (send, simple receive, filters, long polling, ack, invisible time,
// unknown topics, size and type limits, groups). Topics are declared: auto-creation is off.
import { Producer } from 'rocketmq-client-nodejs';
import t from 'tap';
import { sleep } from '../helpers/broker-env.js';
import { quiet, receiveN, startHarness } from '../helpers/official-client.js';

const MAX_BODY = 4_161_536;

t.test('checklist: send and simple consume', async (t) => {
  const h = await startHarness(t, { broker: { autoCreateTopics: false } });
  for (const name of ['basic', 'tags', 'empty', 'wake', 'ack', 'vis', 'civ', 'big', 'shared'])
    h.server.broker.createTopic(name, { queues: 4 });
  h.server.broker.createTopic('fifo-only', { queues: 2, type: 'FIFO' });
  const producer = await h.producer({ topic: ['basic'] });

  await t.test('item 2: normal send returns the client’s message id and an offset', async (t) => {
    const receipt = await producer.send({
      topic: 'basic',
      body: Buffer.from('hello'),
      tag: 'a',
      keys: ['k1'],
      properties: new Map([['p', 'v']]),
    });
    t.match(receipt.messageId, /^01[0-9A-F]{32}$/, '34 upper-case hex characters starting 01');
    t.ok(Number(receipt.offset) >= 0, 'offset ≥ 0');

    await t.test('item 3: a SimpleConsumer receives it intact', async (t) => {
      const c = await h.simple('g-basic', 'basic');
      const [m, ...rest] = await receiveN(c, 1, 15_000);
      t.equal(rest.length, 0, 'one message');
      t.equal(m?.messageId, receipt.messageId, 'message id');
      t.equal(m?.body.toString(), 'hello', 'body');
      t.equal(m?.tag, 'a', 'tag');
      t.same(m?.keys, ['k1'], 'keys');
      t.equal(m?.properties.get('p'), 'v', 'properties');
      t.equal(m?.deliveryAttempt, 1, 'first delivery');
      t.ok(
        m?.bornTimestamp instanceof Date && Math.abs(m.bornTimestamp.getTime() - Date.now()) < 60_000,
        'born',
      );
      t.notOk(m?.corrupted, 'the body digest matches');
      await c.ack(m!);
    });
  });

  await t.test('item 4: a tag filter delivers only matching tags', async (t) => {
    const a = await producer.send({ topic: 'tags', body: Buffer.from('A'), tag: 'a' });
    const b = await producer.send({ topic: 'tags', body: Buffer.from('B'), tag: 'b' });
    const c = await h.simple('g-tags', 'tags', 'b');
    const got = await receiveN(c, 1, 15_000);
    t.same(
      got.map((m) => m.messageId),
      [b.messageId],
      'only tag b',
    );
    for (const m of got) await c.ack(m);
    t.same(await c.receive(16, 15_000), [], 'nothing else arrives');
    t.not(a.messageId, b.messageId);
  });

  await t.test('item 5: an empty poll answers [] after the await duration', async (t) => {
    const c = await h.simple('g-empty', 'empty', '*', 5000);
    const t0 = Date.now();
    const got = await c.receive(16, 15_000);
    const took = Date.now() - t0;
    t.same(got, [], 'no messages, no error');
    t.ok(took >= 4500 && took < 8000, `held for the await duration (${took} ms)`);
  });

  await t.test('item 6: a send wakes a parked receive', async (t) => {
    const c = await h.simple('g-wake', 'wake', '*', 5000);
    const parked = c.receive(16, 15_000);
    await sleep(500);
    const sentAt = Date.now();
    const receipt = await producer.send({ topic: 'wake', body: Buffer.from('now') });
    const got = await parked;
    const latency = Date.now() - sentAt;
    t.same(
      got.map((m) => m.messageId),
      [receipt.messageId],
      'the parked receive got it',
    );
    t.comment(`wake-up latency ${latency} ms (send call included)`);
    t.ok(latency < 1500, `returned soon after the send (${latency} ms), not at the end of the poll`);
    for (const m of got) await c.ack(m);
  });

  await t.test('item 7: an acked message is not redelivered; a second ack is 40013', async (t) => {
    await producer.send({ topic: 'ack', body: Buffer.from('once') });
    const c = await h.simple('g-ack', 'ack', '*', 1000);
    const [m] = await receiveN(c, 1, 1000);
    t.ok(m, 'received');
    await c.ack(m!);
    await sleep(1300);
    t.same(await c.receive(16, 1000), [], 'not redelivered after the invisible time');
    await t.rejects(c.ack(m!), { code: 40013, name: 'BadRequestException' }, 'the handle is spent');
  });

  await t.test('item 8: an unacked message comes back after the invisible time', async (t) => {
    const receipt = await producer.send({ topic: 'vis', body: Buffer.from('again') });
    const c = await h.simple('g-vis', 'vis', '*', 1000);
    const [m] = await receiveN(c, 1, 2000);
    const receivedAt = Date.now();
    t.equal(m?.messageId, receipt.messageId);
    t.same(await c.receive(16, 2000), [], 'invisible meanwhile');
    const [again] = await receiveN(c, 1, 15_000);
    const after = Date.now() - receivedAt;
    t.equal(again?.messageId, receipt.messageId, 'redelivered');
    t.ok(after >= 1800, `not before the invisible time (${after} ms)`);
    t.equal(again?.deliveryAttempt, 2, 'attempt 2');
    t.not(again?.receiptHandle, m?.receiptHandle, 'a new receipt handle');
    await t.rejects(c.ack(m!), { code: 40013 }, 'the old handle is stale');
    await c.ack(again!);
  });

  await t.test('item 9: changeInvisibleDuration gives a new handle and a new visibility', async (t) => {
    const receipt = await producer.send({ topic: 'civ', body: Buffer.from('later') });
    const c = await h.simple('g-civ', 'civ', '*', 1000);
    const [m] = await receiveN(c, 1, 30_000);
    t.equal(m?.messageId, receipt.messageId);
    const before = m!.receiptHandle;
    const changedAt = Date.now();
    await c.changeInvisibleDuration(m!, 2000);
    t.not(m!.receiptHandle, before, 'the handle changed');
    const [again] = await receiveN(c, 1, 30_000, 10_000);
    const after = Date.now() - changedAt;
    t.equal(again?.messageId, receipt.messageId, 'redelivered');
    t.ok(after >= 1800, `after the new duration (${after} ms)`);
    await t.rejects(c.ack({ ...m!, receiptHandle: before } as never), { code: 40013 }, 'the old handle');
    await c.ack(again!);
    t.pass('ack with the new handle succeeds');
  });

  await t.test('item 10: an unknown topic is NotFoundException (40402)', async (t) => {
    await t.rejects(
      producer.send({ topic: 'missing', body: Buffer.from('x') }),
      { code: 40402, name: 'NotFoundException' },
      'send',
    );
    const p = new Producer({ endpoints: h.endpoints, namespace: '', topic: ['missing'], logger: quiet });
    const t0 = Date.now();
    await t.rejects(p.startup(), /Failed to fetch topic routes/, 'startup with the topic rejects');
    const took = Date.now() - t0;
    t.ok(took >= 2500 && took < 10_000, `after the client's route retries (${took} ms)`);
    await p.shutdown().catch(() => {});
    t.notOk(h.server.broker.getTopic('missing'), 'nothing was created');
  });

  await t.test('item 21: the advertised body limit', async (t) => {
    const before = h.server.broker.store.stats().wrotePosition;
    await t.rejects(
      producer.send({ topic: 'big', body: Buffer.alloc(MAX_BODY + 1) }),
      TypeError,
      'max_body_size + 1 is refused by the client',
    );
    t.equal(h.server.broker.store.stats().wrotePosition, before, 'nothing reached the store');
    const body = Buffer.alloc(4_100_000, 7);
    body.write('head');
    const receipt = await producer.send({ topic: 'big', body });
    const c = await h.simple('g-big', 'big');
    const [m] = await receiveN(c, 1, 15_000);
    t.equal(m?.messageId, receipt.messageId);
    t.ok(m?.body.equals(body), '4 100 000 bytes round-trip');
    t.notOk(m?.corrupted);
    await c.ack(m!);
  });

  await t.test('item 22: a FIFO-only topic refuses a message without a group', async (t) => {
    const p = await h.producer({ topic: ['fifo-only'] });
    await t.rejects(
      p.send({ topic: 'fifo-only', body: Buffer.from('x') }),
      { name: 'TypeError', message: /Current message type not match/ },
      'client-side type check from the route’s accept types',
    );
    const ok = await p.send({ topic: 'fifo-only', body: Buffer.from('y'), messageGroup: 'g' });
    t.match(ok.messageId, /^01/, 'a FIFO message is accepted');
  });

  await t.test('item 26: one group shares messages, two groups each get all', async (t) => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++)
      ids.push((await producer.send({ topic: 'shared', body: Buffer.from(`m${i}`) })).messageId);
    const c1 = await h.simple('g-shared', 'shared', '*', 1000);
    const c2 = await h.simple('g-shared', 'shared', '*', 1000);
    const other = await h.simple('g-other', 'shared', '*', 1000);
    const seen = new Map<string, number>();
    const drain = async (c: typeof c1): Promise<void> => {
      const until = Date.now() + 10_000;
      while (Date.now() < until) {
        const got = await c.receive(3, 30_000);
        if (got.length === 0 && seen.size === ids.length) return;
        for (const m of got) {
          seen.set(m.messageId, (seen.get(m.messageId) ?? 0) + 1);
          await c.ack(m);
        }
      }
    };
    await Promise.all([drain(c1), drain(c2)]);
    t.same([...seen.keys()].sort(), [...ids].sort(), 'every message reached the group');
    t.ok(
      [...seen.values()].every((n) => n === 1),
      'each exactly once across the two consumers',
    );
    const theirs = await receiveN(other, ids.length, 30_000);
    t.same(theirs.map((m) => m.messageId).sort(), [...ids].sort(), 'the other group got all of them');
  });
});
