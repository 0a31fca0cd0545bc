// Namespaces (x-mq-namespace): topics and groups of one namespace are invisible from another;
// the broker stores them as `<namespace>%<name>` and clients see their own names.
import * as grpc from '@grpc/grpc-js';
import { Producer, SimpleConsumer } from 'rocketmq-client-nodejs';
import t from 'tap';
import { namespaceOf, resourceName, wireResource } from '../../src/server/convert.js';
import { TidemqServer } from '../../src/server/server.js';
import { SMALL_STORE, tempDir } from '../helpers/broker-env.js';
import { startHarness } from '../helpers/official-client.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

t.test('namespace: the name mapping', async (t) => {
  t.equal(resourceName({ name: 'orders' }, ''), 'orders', 'no namespace: the name itself');
  t.equal(resourceName({ name: 'orders' }, 'ns1'), 'ns1%orders');
  t.equal(resourceName({ name: '%DLQ%billing' }, 'ns1'), '%DLQ%ns1%billing', 'DLQ prefix stays in front');
  t.equal(resourceName({ name: '%RETRY%billing' }, 'ns1'), '%RETRY%ns1%billing');
  for (const name of ['orders', '%DLQ%billing', '%RETRY%billing']) {
    t.same(
      wireResource(resourceName({ name }, 'ns1'), 'ns1'),
      { name, resourceNamespace: 'ns1' },
      `${name} round-trips`,
    );
  }
  const call = (ns?: string) => {
    const metadata = new grpc.Metadata();
    if (ns !== undefined) metadata.set('x-mq-namespace', ns);
    return { metadata };
  };
  t.equal(namespaceOf(call('ns1')), 'ns1', 'the x-mq-namespace header');
  t.equal(namespaceOf(call()), '', 'or none (resource_namespace is not read)');
  t.throws(() => namespaceOf(call('a%b')), { code: 40000 }, 'a namespace with % is refused');
  // A wire name may not spell out another namespace's stored name.
  for (const name of ['ns1%orders', '%DLQ%ns1%billing', '%RETRY%ns1%billing']) {
    t.throws(() => resourceName({ name }, ''), { code: 40000 }, `${name} without a namespace is refused`);
    t.throws(() => resourceName({ name }, 'ns2'), { code: 40000 }, `${name} from ns2 is refused`);
  }
});

t.test('namespace: a client without a namespace cannot reach ns1%orders by name', async (t) => {
  const h = await startHarness(t);
  const producer = await h.producer();
  const err = await producer.send({ topic: 'ns1%orders', body: Buffer.from('x') }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err, 'the send is refused');
  t.notOk(h.server.broker.getTopic('ns1%orders'), "nothing was created in ns1's name");
});

t.test('namespace: ns1 producer and consumer exchange messages; ns2 sees none', async (t) => {
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
  const consumer = async (namespace: string): Promise<SimpleConsumer> => {
    const c = new SimpleConsumer({
      endpoints,
      namespace,
      consumerGroup: 'g',
      subscriptions: new Map([['orders', '*']]),
      awaitDuration: 1000,
      logger: quiet,
    });
    await c.startup();
    clients.push(c);
    return c;
  };

  const producer = new Producer({ endpoints, namespace: 'ns1', topics: ['orders'], logger: quiet });
  await producer.startup();
  clients.push(producer);
  const sent = new Set<string>();
  for (let i = 0; i < 3; i++) {
    sent.add((await producer.send({ topic: 'orders', body: Buffer.from(`m${i}`) })).messageId);
  }
  const ns2 = await consumer('ns2');
  const ns1 = await consumer('ns1');

  const got: { messageId: string; topic: string }[] = [];
  for (let i = 0; i < 10 && got.length < 3; i++) got.push(...((await ns1.receive(16, 10_000)) as never[]));
  t.same(new Set(got.map((m) => m.messageId)), sent, 'ns1 receives what ns1 sent');
  t.same([...new Set(got.map((m) => m.topic))], ['orders'], 'the client sees its own topic name');
  for (const m of got) await ns1.ack(m as never);

  t.same(await ns2.receive(16, 10_000), [], 'ns2 (same topic and group names) sees nothing');
  const noNamespace = await consumer('');
  t.same(await noNamespace.receive(16, 10_000), [], 'neither does a client without a namespace');

  const names = server.broker.topics().map((x) => x.name);
  t.ok(names.includes('ns1%orders') && names.includes('ns2%orders'), 'stored as <namespace>%<name>');
});
