import t from 'tap';
import { BrokerError } from '../../src/broker/errors.js';
import { RETRY_BACKOFF_MS } from '../../src/broker/properties.js';
import { ConsumeResult } from '../../src/broker/types.js';
import { openBroker, sleep, tempDir } from '../helpers/broker-env.js';

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(5);
  return cond();
}

t.test('groups: configureGroup settings survive a restart and groups() lists them', async (t) => {
  const dir = tempDir(t);
  let broker = await openBroker(dir);
  broker.createTopic('T', { queues: 1 });
  const info = await broker.configureGroup('G', { maxDeliveryAttempts: 2, retryBackoffMs: [50], fifo: true });
  t.same(info, { name: 'G', configured: true, maxDeliveryAttempts: 2, retryBackoffMs: [50], fifo: true });
  await broker.configureGroup('H', { maxDeliveryAttempts: 5 });
  // Reconfiguring replaces the whole configuration.
  await broker.configureGroup('H', { retryBackoffMs: [1000, 2000] });
  const c = broker.simpleConsumer({ consumerGroup: 'Plain', subscriptions: { T: '*' }, awaitDuration: 0 });
  await c.receive(1, 1000);
  t.same(
    broker.groups().map((g) => [g.name, g.configured]),
    [
      ['G', true],
      ['H', true],
      ['Plain', false],
    ],
  );
  t.same(broker.groupInfo('H'), {
    name: 'H',
    configured: true,
    maxDeliveryAttempts: 17,
    retryBackoffMs: [1000, 2000],
    fifo: undefined,
  });
  // A clean close: the final snapshot carries the table (the next test covers the journal).
  await broker.close();
  broker = await openBroker(dir);
  t.same(broker.groupInfo('G'), info, 'G survived a restart');
  t.equal(broker.groupInfo('H').maxDeliveryAttempts, 17);
  t.same(broker.groupInfo('H').retryBackoffMs, [1000, 2000]);
  await broker.configureGroup('H', null);
  t.same(broker.groupInfo('H'), {
    name: 'H',
    configured: false,
    maxDeliveryAttempts: 17,
    retryBackoffMs: [...RETRY_BACKOFF_MS],
    fifo: undefined,
  });
  await broker.close();
  broker = await openBroker(dir);
  t.teardown(() => broker.close());
  t.equal(broker.groupInfo('H').configured, false, 'forgetting survives a restart too');
  t.equal(broker.groupInfo('G').configured, true);
});

t.test('groups: settings are replayed from the journal after a crash (no snapshot taken)', async (t) => {
  const dir = tempDir(t);
  const first = await openBroker(dir, { snapshotIntervalMs: 3_600_000 });
  await first.configureGroup('G', { maxDeliveryAttempts: 3 });
  // Simulate a crash: copy the directory as it is now (journal sealed, snapshot from open).
  const { cpSync, rmSync } = await import('node:fs');
  const copy = `${dir}-crash`;
  cpSync(dir, copy, { recursive: true });
  rmSync(`${copy}/lock`, { force: true });
  t.teardown(() => rmSync(copy, { recursive: true, force: true }));
  await first.close();
  const second = await openBroker(copy);
  t.teardown(() => second.close());
  t.equal(second.groupInfo('G').maxDeliveryAttempts, 3);
});

t.test('groups: consumers use the group configuration unless they override it', async (t) => {
  const broker = await openBroker(tempDir(t));
  t.teardown(() => broker.close());
  broker.createTopic('T', { queues: 1 });
  await broker.configureGroup('G', { maxDeliveryAttempts: 2, retryBackoffMs: [30] });
  await broker.producer().send({ topic: 'T', body: 'x' });
  const attempts: number[] = [];
  const push = broker.pushConsumer({
    consumerGroup: 'G',
    subscriptions: { T: '*' },
    longPollingTimeout: 100,
    messageListener: (m) => {
      attempts.push(m.deliveryAttempt);
      return ConsumeResult.FAILURE;
    },
  });
  const dlq = broker.simpleConsumer({
    consumerGroup: 'D',
    subscriptions: { '%DLQ%G': '*' },
    awaitDuration: 3000,
  });
  const dead = await dlq.receive(4, 10_000);
  await push.close();
  t.same(attempts, [1, 2], 'two deliveries (the configured maximum), then the DLQ');
  t.equal(dead.length, 1);

  // A consumer's own option wins over the group's configuration.
  await broker.producer().send({ topic: 'T', body: 'y' });
  const attempts2: number[] = [];
  const push2 = broker.pushConsumer({
    consumerGroup: 'G',
    subscriptions: { T: '*' },
    longPollingTimeout: 100,
    maxDeliveryAttempts: 3,
    messageListener: (m) => {
      attempts2.push(m.deliveryAttempt);
      return attempts2.length < 3 ? ConsumeResult.FAILURE : ConsumeResult.SUCCESS;
    },
  });
  t.ok(await until(() => attempts2.length >= 3, 5000));
  await push2.close();
  t.same(attempts2, [1, 2, 3], 'the override allowed a third delivery');

  // Running consumers follow a reconfiguration.
  const c = broker.simpleConsumer({ consumerGroup: 'G', subscriptions: { T: '*' } });
  t.equal(c.spec.maxDeliveryAttempts, 2);
  await broker.configureGroup('G', { maxDeliveryAttempts: 9 });
  t.equal(c.spec.maxDeliveryAttempts, 9);
  t.same(c.spec.retryBackoffMs, RETRY_BACKOFF_MS, 'replaced: the backoff is the default again');
});

t.test('groups: bad settings are rejected with a typed error and change nothing', async (t) => {
  const broker = await openBroker(tempDir(t));
  t.teardown(() => broker.close());
  await broker.configureGroup('G', { maxDeliveryAttempts: 4 });
  const bad: [string, unknown][] = [
    ['G', { maxDeliveryAttempts: 0 }],
    ['G', { maxDeliveryAttempts: 1.5 }],
    ['G', { retryBackoffMs: [] }],
    ['G', { retryBackoffMs: [10, -1] }],
    ['G', { fifo: 'yes' }],
    ['G', { maxDeliveryAtempts: 3 }],
    ['G', 'everything'],
    ['bad name!', { fifo: true }],
  ];
  for (const [name, settings] of bad) {
    const err = await broker.configureGroup(name, settings as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof BrokerError, `${JSON.stringify(settings)} rejected`);
    t.match((err as BrokerError).code, /^(BAD_REQUEST|ILLEGAL_CONSUMER_GROUP)$/);
  }
  t.equal(broker.groupInfo('G').maxDeliveryAttempts, 4, 'unchanged');
  t.throws(() => broker.simpleConsumer({ consumerGroup: 'G', subscriptions: {}, retryBackoffMs: [] }), {
    code: 'BAD_REQUEST',
  });
});
