// Transaction check-back across a server restart (checklist item 16, and issue #5's "unresolved
// → checked back" after a crash of the server side): a producer sends a half message, the server
// closes and starts again on the same port and store; the official client reconnects its
// Telemetry stream, sends Settings, and the pending half is checked back on that stream and
// committed by the client's checker.
import type { MessageView } from 'rocketmq-client-nodejs';
import { Producer, SimpleConsumer } from 'rocketmq-client-nodejs';
import t from 'tap';
import { TidemqServer } from '../../src/server/server.js';
import { SMALL_STORE, tempDir } from '../helpers/broker-env.js';
import { quiet, until } from '../helpers/official-client.js';

const COMMIT = 1 as never;

t.test('check-back: a half message sent before a restart is checked on the new stream', async (t) => {
  const dir = tempDir(t);
  const options = {
    dir,
    host: '127.0.0.1',
    broker: {
      store: SMALL_STORE,
      transactionTimeoutMs: 3000,
      transactionCheckIntervalMs: 1000,
      transactionMaxChecks: 10,
    },
  };
  let server = await TidemqServer.start({ ...options, port: 0 });
  const port = server.port;
  const endpoints = `127.0.0.1:${port}`;
  const checked: string[] = [];
  const producer = new Producer({
    endpoints,
    namespace: '',
    topic: ['restart-tx'],
    logger: quiet,
    checker: {
      async check(m: MessageView) {
        checked.push(m.messageId);
        return COMMIT;
      },
    },
  });
  let consumer: SimpleConsumer | undefined;
  t.teardown(async () => {
    await consumer?.shutdown().catch(() => {});
    await producer.shutdown().catch(() => {});
    await server.close();
  });
  await producer.startup();
  const receipt = await producer.send(
    { topic: 'restart-tx', body: Buffer.from('survives') },
    producer.beginTransaction(),
  );
  await server.close();
  t.same(checked, [], 'not checked before the restart');
  server = await TidemqServer.start({ ...options, port });
  t.equal(server.broker.transactions.size, 1, 'the half message is pending after the restart');

  await until(() => checked.length > 0, 15_000, 'the check-back on the reopened stream');
  t.equal(checked[0], receipt.messageId, 'the checker saw the message');
  consumer = new SimpleConsumer({
    endpoints,
    namespace: '',
    consumerGroup: 'g-restart',
    subscriptions: new Map([['restart-tx', '*']]),
    awaitDuration: 2000,
    logger: quiet,
  });
  await consumer.startup();
  let got: MessageView[] = [];
  const end = Date.now() + 10_000;
  while (got.length === 0 && Date.now() < end) got = await consumer.receive(4, 15_000);
  t.same(
    got.map((m) => m.messageId),
    [receipt.messageId],
    'committed by the checker and delivered once',
  );
  await consumer.ack(got[0]!);
});
