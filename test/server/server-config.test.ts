// Declared topics and groups (`--config`) and `--no-auto-create`, through the official client.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Producer } from 'rocketmq-client-nodejs';
import t from 'tap';
import { TidemqServer } from '../../src/server/server.js';
import { checkServerConfig } from '../../src/server/server-config.js';
import { SMALL_STORE, tempDir } from '../helpers/broker-env.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

t.test('server config: validation names the source, the key and what to do', async (t) => {
  const bad = (value: unknown, message: RegExp, what: string) =>
    t.throws(() => checkServerConfig(value, 'cfg.json'), { code: 'INVALID_CONFIG', message }, what);
  bad([], /cfg\.json: \(top level\)/, 'not an object');
  bad({ topic: {} }, /cfg\.json: topic: unknown key/, 'misspelt top-level key');
  bad(
    { topics: { orders: { queues: 0 } } },
    /topics\.orders\.queues: expected an integer from 1 to 1024, got 0/,
    'zero queues',
  );
  bad({ topics: { orders: { queues: 2.5 } } }, /topics\.orders\.queues/, 'fractional queues');
  bad(
    { topics: { orders: { type: 'fifo' } } },
    /topics\.orders\.type: expected one of NORMAL, FIFO/,
    'type is case-sensitive',
  );
  bad({ topics: { orders: { queue: 4 } } }, /topics\.orders\.queue: unknown key/, 'misspelt topic key');
  bad({ topics: { 'bad name': {} } }, /topics\.bad name: topic "bad name" is not valid/, 'bad topic name');
  bad({ topics: { rmq_sys_x: {} } }, /topics\.rmq_sys_x: this name is reserved/, 'system topic');
  bad(
    { groups: { billing: { fifo: 'yes' } } },
    /groups\.billing\.fifo: expected true or false/,
    'fifo not boolean',
  );
  bad(
    { groups: { billing: { maxDeliveryAttempts: 0 } } },
    /groups\.billing\.maxDeliveryAttempts/,
    'attempts < 1',
  );
  bad(
    { groups: { billing: { retryBackoffMs: [100, -1] } } },
    /groups\.billing\.retryBackoffMs: expected a list of 1 to 64 delays/,
    'negative backoff',
  );
  bad({ groups: { billing: { retryBackoffMs: [] } } }, /groups\.billing\.retryBackoffMs/, 'empty backoff');
  bad({ groups: { billing: { retries: 3 } } }, /groups\.billing\.retries: unknown key/, 'misspelt group key');
  bad({ groups: { 'a b': {} } }, /groups\.a b: consumer group "a b" is not valid/, 'bad group name');
  t.same(
    checkServerConfig(
      { topics: { orders: { queues: 8, type: 'FIFO' } }, groups: { billing: { fifo: true } } },
      'x',
    ),
    { topics: { orders: { queues: 8, type: 'FIFO' } }, groups: { billing: { fifo: true } } },
    'a valid config comes back as given',
  );
});

t.test('server config: topics created at start, groups exposed, existing topics grow only', async (t) => {
  const dir = tempDir(t);
  const start = (options: Partial<Parameters<typeof TidemqServer.start>[0]>) =>
    TidemqServer.start({ dir, host: '127.0.0.1', port: 0, broker: { store: SMALL_STORE }, ...options });

  const server = await start({
    topics: { orders: { queues: 8, type: 'FIFO' }, plain: {} },
    groups: { billing: { fifo: true, maxDeliveryAttempts: 3 } },
    configSource: 'cfg.json',
  });
  t.same(server.broker.getTopic('orders'), { name: 'orders', queues: 8, type: 'FIFO' }, 'declared topic');
  t.same(
    server.broker.getTopic('plain'),
    { name: 'plain', queues: 4, type: 'NORMAL' },
    'defaults: 4 queues, NORMAL',
  );
  t.same(
    server.groupSettings('billing'),
    { fifo: true, maxDeliveryAttempts: 3 },
    'group settings reach the service',
  );
  t.same(server.groupSettings('other'), {}, 'an undeclared group has none');

  const producer = new Producer({
    endpoints: `127.0.0.1:${server.port}`,
    namespace: '',
    topics: ['orders'],
    logger: quiet,
  });
  await producer.startup();
  await t.rejects(
    producer.send({ topic: 'orders', body: Buffer.from('x') }),
    { name: 'TypeError', message: /Current message type not match/ },
    'the route advertises FIFO only',
  );
  const r = await producer.send({ topic: 'orders', body: Buffer.from('x'), messageGroup: 'm1' });
  t.match(r.messageId, /^01/, 'a FIFO message is accepted');
  await producer.shutdown();
  await server.close();

  const topicsFile = path.join(dir, 'config', 'topics.json');
  const before = readFileSync(topicsFile, 'utf8');
  await t.rejects(
    start({ topics: { added: {}, orders: { queues: 4 } }, configSource: 'cfg.json' }),
    {
      code: 'INVALID_CONFIG',
      message: /cfg\.json: topics\.orders\.queues: the topic already has 8 queues .* set queues to 8 or more/,
    },
    'shrinking is refused',
  );
  t.equal(readFileSync(topicsFile, 'utf8'), before, 'and nothing was written (not even the other topic)');

  const grown = await start({ topics: { orders: { queues: 12, type: 'MIXED' } } });
  t.same(grown.broker.getTopic('orders'), { name: 'orders', queues: 12, type: 'MIXED' }, 'grown and retyped');
  await grown.close();
});

t.test(
  'server config: --no-auto-create answers TOPIC_NOT_FOUND; auto-created topics are MIXED x4',
  async (t) => {
    const server = await TidemqServer.start({
      dir: tempDir(t),
      host: '127.0.0.1',
      port: 0,
      broker: { store: SMALL_STORE },
      autoCreateTopics: false,
      topics: { declared: {} },
    });
    const producer = new Producer({ endpoints: `127.0.0.1:${server.port}`, namespace: '', logger: quiet });
    await producer.startup();
    t.teardown(async () => {
      await producer.shutdown().catch(() => {});
      await server.close();
    });
    await t.rejects(producer.send({ topic: 'missing', body: Buffer.from('x') }), {
      name: 'NotFoundException',
      code: 40402,
    });
    t.equal(server.broker.getTopic('missing'), undefined, 'not created');
    t.match(
      (await producer.send({ topic: 'declared', body: Buffer.from('x') })).messageId,
      /^01/,
      'declared works',
    );

    const auto = await TidemqServer.start({
      dir: tempDir(t),
      host: '127.0.0.1',
      port: 0,
      broker: { store: SMALL_STORE },
    });
    const p2 = new Producer({ endpoints: `127.0.0.1:${auto.port}`, namespace: '', logger: quiet });
    await p2.startup();
    await p2.send({ topic: 'fresh', body: Buffer.from('x') });
    t.same(
      auto.broker.getTopic('fresh'),
      { name: 'fresh', queues: 4, type: 'MIXED' },
      'auto-created: MIXED, 4 queues',
    );
    await p2.shutdown();
    await auto.close();
  },
);
