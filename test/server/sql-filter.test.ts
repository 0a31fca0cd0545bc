// SQL92 filters over gRPC, with the official rocketmq-client-nodejs 1.0.8: a FilterExpression of
// type FilterType.SQL (the proto enum; the client puts it in the ReceiveMessage request as is)
// selects by user properties; a bad expression is ILLEGAL_FILTER_EXPRESSION (40010).
import { createRequire } from 'node:module';
import { ConsumeResult, FilterExpression, type MessageView, SimpleConsumer } from 'rocketmq-client-nodejs';
import t from 'tap';
import { sleep } from '../helpers/broker-env.js';
import { quiet, receiveN, startHarness, until } from '../helpers/official-client.js';

const clientRequire = createRequire(createRequire(import.meta.url).resolve('rocketmq-client-nodejs'));
const { FilterType } = clientRequire('../proto/apache/rocketmq/v2/definition_pb') as {
  FilterType: { TAG: number; SQL: number };
};

t.test('sql filter: the official client selects by properties with FilterType.SQL', async (t) => {
  const h = await startHarness(t);
  const producer = await h.producer({ topic: ['sql'] });
  const wanted: string[] = [];
  for (let i = 0; i < 12; i++) {
    const properties = new Map([
      ['region', i % 3 === 0 ? 'eu' : 'us'],
      ['amount', String(i * 10)],
    ]);
    const r = await producer.send({ topic: 'sql', body: Buffer.from(`m${i}`), tag: 'order', properties });
    if (i % 3 === 0 && i * 10 >= 30) wanted.push(r.messageId);
  }
  const consumer = new SimpleConsumer({
    endpoints: h.endpoints,
    namespace: '',
    consumerGroup: 'g-sql',
    subscriptions: new Map([['sql', new FilterExpression("region = 'eu' AND amount >= 30", FilterType.SQL)]]),
    awaitDuration: 2000,
    logger: quiet,
  });
  t.teardown(() => consumer.shutdown());
  await consumer.startup();
  const got = await receiveN(consumer, wanted.length, 30_000, 15_000);
  t.same(got.map((m) => m.messageId).sort(), [...wanted].sort(), 'exactly the eu messages of 30 or more');
  for (const m of got) await consumer.ack(m);
  t.same(await consumer.receive(16, 30_000), [], 'nothing else matches');

  const tags = await h.simple('g-sql-tags', 'sql', 'order');
  t.equal(
    (await receiveN(tags, 12, 30_000, 15_000)).length,
    12,
    'a TAG filter on the same topic still works',
  );

  const bad = new SimpleConsumer({
    endpoints: h.endpoints,
    namespace: '',
    consumerGroup: 'g-sql-bad',
    subscriptions: new Map([['sql', new FilterExpression('amount >>> 3', FilterType.SQL)]]),
    awaitDuration: 1000,
    logger: quiet,
  });
  t.teardown(() => bad.shutdown());
  await bad.startup();
  await t.rejects(bad.receive(1, 30_000), { code: 40010 }, 'a bad expression: ILLEGAL_FILTER_EXPRESSION');
});

t.test('sql filter: a PushConsumer subscribed with FilterType.SQL gets only the matches', async (t) => {
  const h = await startHarness(t, { pushLongPollingMs: 2000 });
  const producer = await h.producer({ topic: ['sql-push'] });
  const wanted = new Set<string>();
  for (let i = 0; i < 10; i++) {
    const properties = new Map([['level', String(i)]]);
    const r = await producer.send({ topic: 'sql-push', body: Buffer.from(`p${i}`), properties });
    if (i % 2 === 1 && i > 4) wanted.add(r.messageId);
  }
  const seen: string[] = [];
  await h.push({
    consumerGroup: 'g-sql-push',
    subscriptions: new Map([
      ['sql-push', new FilterExpression('level IN (5, 7, 9) OR level BETWEEN 100 AND 200', FilterType.SQL)],
    ]),
    messageListener: {
      consume(m: MessageView) {
        seen.push(m.messageId);
        return ConsumeResult.SUCCESS;
      },
    },
  });
  await until(() => seen.length >= wanted.size, 15_000, 'the three matching messages');
  await sleep(1500); // a non-matching delivery, if any, would come now
  t.same([...seen].sort(), [...wanted].sort(), 'levels 5, 7 and 9, each once');
});
