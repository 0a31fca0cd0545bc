// The official rocketmq-client-nodejs against `tidemq serve` in-process, over loopback.
import { Producer, SimpleConsumer } from 'rocketmq-client-nodejs';
import t from 'tap';
import { TidemqServer } from '../../src/server/server.js';
import { SMALL_STORE, sleep, tempDir } from '../helpers/broker-env.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

interface Received {
  messageId: string;
  body: Buffer;
  tag?: string;
  keys: string[];
  properties: Map<string, string>;
  deliveryAttempt?: number;
  receiptHandle: string;
  corrupted?: boolean;
}

t.test('server: the official client produces and simple-consumes', async (t) => {
  const server = await TidemqServer.start({
    dir: tempDir(t),
    host: '127.0.0.1',
    port: 0,
    broker: { store: SMALL_STORE },
  });
  const endpoints = `127.0.0.1:${server.port}`;
  const clients: { shutdown(): Promise<unknown> }[] = [];
  t.teardown(async () => {
    for (const c of clients) await c.shutdown().catch(() => {});
    await server.close();
  });

  const producer = new Producer({ endpoints, namespace: '', topic: ['orders'], logger: quiet });
  await producer.startup();
  clients.push(producer);

  const consumerOf = async (group: string, topic: string): Promise<SimpleConsumer> => {
    const c = new SimpleConsumer({
      endpoints,
      namespace: '',
      consumerGroup: group,
      subscriptions: new Map([[topic, '*']]),
      awaitDuration: 2000,
      logger: quiet,
    });
    await c.startup();
    clients.push(c);
    return c;
  };
  const receiveN = async (c: SimpleConsumer, n: number, invisibleMs: number): Promise<Received[]> => {
    const got: Received[] = [];
    const until = Date.now() + 15_000;
    while (got.length < n && Date.now() < until) {
      got.push(...((await c.receive(16, invisibleMs)) as unknown as Received[]));
    }
    return got;
  };

  await t.test('send: normal messages with tag and keys get receipts', async (t) => {
    const sent: string[] = [];
    for (let i = 0; i < 3; i++) {
      const receipt = await producer.send({
        topic: 'orders',
        body: Buffer.from(`order-${i}`),
        tag: 'a',
        keys: [`k${i}`],
        properties: new Map([['n', String(i)]]),
      });
      t.match(receipt.messageId, /^01[0-9A-F]{32}$/, 'message id is the client’s');
      t.ok(Number(receipt.offset) >= 0, 'offset');
      sent.push(receipt.messageId);
    }

    const consumer = await consumerOf('g1', 'orders');
    const got = await receiveN(consumer, 3, 15_000);
    t.equal(got.length, 3, 'all three received');
    t.same(got.map((m) => m.messageId).sort(), [...sent].sort(), 'same message ids');
    for (const m of got) {
      const i = sent.indexOf(m.messageId);
      t.equal(m.body.toString(), `order-${i}`);
      t.equal(m.tag, 'a');
      t.same(m.keys, [`k${i}`]);
      t.equal(m.properties.get('n'), String(i));
      t.equal(m.deliveryAttempt, 1);
      t.notOk(m.corrupted, 'body digest matches');
    }
    for (const m of got) await consumer.ack(m as never);
    t.same(await consumer.receive(16, 15_000), [], 'nothing after ack');
    await t.rejects(consumer.ack(got[0] as never), { code: 40013 }, 'a second ack is refused');
  });

  await t.test('changeInvisibleDuration: new handle, redelivered after the new duration', async (t) => {
    const receipt = await producer.send({ topic: 'later', body: Buffer.from('x') });
    const consumer = await consumerOf('g2', 'later');
    const [m] = await receiveN(consumer, 1, 30_000);
    t.equal(m?.messageId, receipt.messageId);
    const before = m!.receiptHandle;
    await consumer.changeInvisibleDuration(m as never, 1000);
    t.not(m!.receiptHandle, before, 'the handle changed');
    const [again] = await receiveN(consumer, 1, 30_000);
    t.equal(again?.messageId, receipt.messageId, 'redelivered');
    t.equal(again?.deliveryAttempt, 2);
    await consumer.ack(again as never);
  });

  await t.test('invisible time: an unacked message comes back with a new handle', async (t) => {
    const receipt = await producer.send({ topic: 'retry', body: Buffer.from('y'), tag: 'b' });
    const consumer = await consumerOf('g3', 'retry');
    const [m] = await receiveN(consumer, 1, 1000);
    t.equal(m?.messageId, receipt.messageId);
    await sleep(1100);
    const [again] = await receiveN(consumer, 1, 30_000);
    t.equal(again?.messageId, receipt.messageId, 'redelivered');
    t.equal(again?.deliveryAttempt, 2);
    t.not(again?.receiptHandle, m?.receiptHandle);
    await t.rejects(consumer.ack(m as never), { code: 40013 }, 'the old handle is stale');
    await consumer.ack(again as never);
  });
});
