/**
 * Fresh views: the first-delivery views receive makes straight from the log (QueueReader.readWith
 * with FreshViews, no StoredRecord in between) read exactly what a view over the stored record
 * (read() + toMessageView, the slow path) reads — every field, for random messages and windows.
 * Seeded (TIDEMQ_SEED replays).
 */
import { inspect } from 'node:util';
import t from 'tap';
import { FreshViews, toMessageView } from '../../src/broker/message-view.js';
import type { MessageView, SendMessage } from '../../src/broker/types.js';
import { openBroker, tempDir } from '../helpers/broker-env.js';
import { pickSeed, Rng } from '../helpers/rng.js';

/** Every field a consumer can read, as plain data. */
function fields(v: MessageView): Record<string, unknown> {
  const props = v.properties;
  return {
    messageId: v.messageId,
    topic: v.topic,
    body: v.body.toString('hex'),
    // a Buffer in every respect a consumer can see (a fresh view's body is made without Buffer.from)
    bodyIsBuffer:
      Buffer.isBuffer(v.body) &&
      v.body instanceof Buffer &&
      v.body.constructor === Buffer &&
      v.body.subarray(0) instanceof Buffer &&
      inspect(v.body).startsWith('<Buffer') &&
      v.body.equals(Buffer.from(v.body)),
    corrupted: v.corrupted,
    tag: v.tag,
    messageGroup: v.messageGroup,
    deliveryTimestamp: v.deliveryTimestamp?.getTime(),
    keys: v.keys,
    bornHost: v.bornHost,
    bornTimestamp: v.bornTimestamp?.getTime(),
    deliveryAttempt: v.deliveryAttempt,
    queueId: v.queueId,
    offset: v.offset,
    properties: [...v.properties],
    priority: v.priority,
    storeTimestamp: v.storeTimestamp,
    own: Object.keys(v),
    // the properties are decoded once and kept; the other lazy fields still read after them
    propertiesKept: v.properties === props,
    keysAfterProperties: v.keys,
    idAfterProperties: v.messageId,
  };
}

t.test('fresh-views: views made from the log read what views over the stored records read', async (t) => {
  const seed = pickSeed();
  t.comment(`seed ${seed} (replay with TIDEMQ_SEED=${seed})`);
  const rng = new Rng(seed);
  const dir = tempDir(t);
  const broker = await openBroker(dir);
  t.teardown(() => broker.close());
  broker.createTopic('T', { queues: 3 });
  const p = broker.producer();
  const total = 600;
  for (let sent = 0; sent < total; ) {
    const n = 1 + rng.int(100);
    const msgs: SendMessage[] = [];
    for (let i = 0; i < n; i++) {
      const body = Buffer.alloc(1 + rng.int(300));
      for (let b = 0; b < body.length; b++) body[b] = rng.int(256);
      const m: SendMessage = { topic: 'T', body };
      if (rng.bool()) m.tag = rng.pick(['a', 'b', 'tag-ü']);
      if (rng.bool()) m.keys = Array.from({ length: 1 + rng.int(3) }, (_, k) => `k${sent + i}-${k}`);
      if (rng.bool()) m.properties = { n: String(sent + i), empty: '', 'x-y': 'ä' };
      if (rng.int(4) === 0) m.bornTimestamp = 1_600_000_000_000 + rng.int(1_000_000);
      msgs.push(m);
    }
    await p.sendBatch(msgs);
    sent += n;
  }
  const reader = broker.reader;
  const until = Date.now() + 10_000;
  while ([0, 1, 2].reduce((s, q) => s + reader.maxOffset('T', q), 0) < total && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 5));
  }
  t.ok(reader.readWith, 'the store offers readWith');
  let compared = 0;
  let problems = 0;
  for (let round = 0; round < 60; round++) {
    const q = rng.int(3);
    const from = rng.int(reader.maxOffset('T', q) + 5);
    const max = rng.int(300);
    const recs = reader.read('T', q, from, max);
    const views = reader.readWith!('T', q, from, max, new FreshViews('T').make);
    if (views.length !== recs.length) {
      problems++;
      t.equal(views.length, recs.length, `queue ${q} from ${from} max ${max}: as many`);
      continue;
    }
    for (let i = 0; i < recs.length; i++) {
      compared++;
      const want = fields(toMessageView(recs[i]!, 'T', 1, ''));
      const got = fields(views[i]!);
      if (got.bodyIsBuffer !== true) problems++;
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        problems++;
        if (problems < 5) t.same(got, want, `queue ${q} offset ${recs[i]!.queueOffset}`);
      }
    }
  }
  t.ok(compared > 1000, `${compared} views compared`);
  t.equal(problems, 0, `seed ${seed}: every field agrees`);
});

t.test(
  'fresh-views: a view wrapped in a Proxy (reactive UI state) reads and acks like the view',
  async (t) => {
    const broker = await openBroker(tempDir(t));
    t.teardown(() => broker.close());
    broker.createTopic('P', { queues: 1 });
    await broker.producer().sendBatch([
      { topic: 'P', body: Buffer.from('one'), tag: 'a', keys: ['k1'] },
      { topic: 'P', body: Buffer.from('two') },
    ]);
    const consumer = broker.simpleConsumer({
      consumerGroup: 'g',
      subscriptions: { P: '*' },
      awaitDuration: 2000,
    });
    const views: MessageView[] = [];
    while (views.length < 2) views.push(...(await consumer.receive(2 - views.length, 30_000)));
    const [first, second] = views;
    const wrapped = new Proxy(first!, {});
    t.equal(wrapped.messageId, first!.messageId);
    t.equal(wrapped.tag, 'a');
    t.same(wrapped.keys, ['k1']);
    t.equal(wrapped.body.toString(), 'one');
    const wrappedSecond = new Proxy(second!, {});
    await consumer.changeInvisibleDuration(wrappedSecond, 30_000);
    await consumer.ack(wrapped);
    await consumer.ack(wrappedSecond);
    const quick = broker.simpleConsumer({ consumerGroup: 'g', subscriptions: { P: '*' }, awaitDuration: 0 });
    t.same(await quick.receive(2, 30_000), [], 'both acked through their proxies');
  },
);
