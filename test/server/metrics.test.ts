// Operations of `tidemq serve` in-process: Prometheus metrics and the JSON admin API on the
// metrics port, and the structured log — driven by the official rocketmq-client-nodejs.

import { networkInterfaces } from 'node:os';
import { pino } from 'pino';
import { Producer, SimpleConsumer } from 'rocketmq-client-nodejs';
import t from 'tap';
import { checkTopicName } from '../../src/broker/topic-registry.js';
import { type ServerOptions, TidemqServer } from '../../src/server/server.js';
import { SMALL_STORE, sleep, tempDir } from '../helpers/broker-env.js';
import { sample } from '../helpers/prometheus.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

function capturedLogger() {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines };
}

/** Poll until ok(value) or the time is up; returns the last value (the caller asserts on it). */
async function eventually<T>(get: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (ok(v) || Date.now() > until) return v;
    await sleep(50);
  }
}

async function http(
  base: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${base}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body), headers }),
  });
  const text = await res.text();
  return { status: res.status, json: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text };
}

/** A server on a free loopback port with its metrics/admin port on (unless overridden), silent. */
function startServer(
  t: Parameters<typeof tempDir>[0],
  options: Partial<ServerOptions> = {},
): Promise<TidemqServer> {
  return TidemqServer.start({
    dir: tempDir(t),
    host: '127.0.0.1',
    port: 0,
    metricsPort: 0,
    logger: pino({ level: 'silent' }),
    broker: { store: SMALL_STORE },
    ...options,
  });
}

t.test(
  'server metrics: counters, latency, lag and in-flight follow what the official client does',
  async (t) => {
    const { logger, lines } = capturedLogger();
    const server = await TidemqServer.start({
      dir: tempDir(t),
      host: '127.0.0.1',
      port: 0,
      metricsPort: 0,
      logger,
      broker: { store: SMALL_STORE },
    });
    const clients: { shutdown(): Promise<unknown> }[] = [];
    t.teardown(async () => {
      for (const c of clients) await c.shutdown().catch(() => {});
      await server.close();
    });
    t.ok(server.metricsPort! > 0, `metrics on ${server.metricsPort}`);
    const base = `http://127.0.0.1:${server.metricsPort}`;
    const scrape = async () => (await http(base, '/metrics')).json as string;
    const endpoints = `127.0.0.1:${server.port}`;

    const started = lines.find((l) => l.msg === 'server started');
    t.equal(started?.port, server.port, 'start is logged with the port');
    t.equal(started?.metricsPort, server.metricsPort);

    // One queue, so the consumer offset moves exactly with the acks below.
    const created = await http(base, '/admin/topics', { name: 'm-orders', queues: 1, type: 'NORMAL' });
    t.same(created, { status: 200, json: { name: 'm-orders', queues: 1, type: 'NORMAL' } });

    const producer = new Producer({ endpoints, namespace: '', topic: ['m-orders'], logger: quiet });
    await producer.startup();
    clients.push(producer);
    const bodies = [0, 1, 2, 3, 4].map((i) => Buffer.from('x'.repeat(10 + i)));
    for (const body of bodies) await producer.send({ topic: 'm-orders', body });

    const consumer = new SimpleConsumer({
      endpoints,
      namespace: '',
      consumerGroup: 'mg',
      subscriptions: new Map([['m-orders', '*']]),
      awaitDuration: 2000,
      logger: quiet,
    });
    await consumer.startup();
    clients.push(consumer);
    const got: { body: Buffer; receiptHandle: string }[] = [];
    const until = Date.now() + 15_000;
    while (got.length < 5 && Date.now() < until)
      got.push(...((await consumer.receive(16, 30_000)) as never[]));
    t.equal(got.length, 5, 'all five received');
    for (const m of got.slice(0, 3)) await consumer.ack(m as never);

    let text = await scrape();
    const inBytes = bodies.reduce((s, b) => s + b.length, 0);
    t.equal(sample(text, 'tidemq_messages_in_total', { topic: 'm-orders' }), 5, 'messages in');
    t.equal(sample(text, 'tidemq_bytes_in_total', { topic: 'm-orders' }), inBytes, 'bytes in');
    t.equal(sample(text, 'tidemq_messages_out_total', { group: 'mg', topic: 'm-orders' }), 5, 'messages out');
    t.equal(sample(text, 'tidemq_bytes_out_total', { group: 'mg', topic: 'm-orders' }), inBytes, 'bytes out');
    t.equal(sample(text, 'tidemq_messages_acked_total', { group: 'mg' }), 3, 'acks');
    t.equal(
      sample(text, 'tidemq_request_duration_seconds_count', { method: 'SendMessage', code: '20000' }),
      5,
      'one SendMessage latency sample per send',
    );
    t.equal(
      sample(text, 'tidemq_request_duration_seconds_count', { method: 'AckMessage', code: '20000' }),
      3,
      'one AckMessage latency sample per ack',
    );
    t.ok(
      sample(text, 'tidemq_request_duration_seconds_count', { method: 'ReceiveMessage', code: '20000' })! >=
        1,
      'ReceiveMessage latency by status code',
    );
    t.equal(
      sample(text, 'tidemq_consumer_lag_messages', { group: 'mg', topic: 'm-orders' }),
      2,
      'lag: 2 unacked',
    );
    t.equal(
      sample(text, 'tidemq_consumer_inflight_messages', { group: 'mg', topic: 'm-orders' }),
      2,
      'in flight',
    );
    t.ok(sample(text, 'tidemq_store_written_bytes')! > inBytes, 'store write position');
    t.ok(sample(text, 'tidemq_store_unflushed_bytes')! >= 0, 'flush lag');
    t.equal(sample(text, 'tidemq_store_flush_failures_total'), 0, 'no flush failures');
    t.ok(sample(text, 'tidemq_store_dispatch_lag_bytes') !== undefined, 'dispatch lag');
    t.ok(sample(text, 'process_cpu_seconds_total') !== undefined, 'process metrics in the same registry');

    // Four more messages: the lag grows by four once they are dispatched; in flight stays at two.
    for (let i = 0; i < 4; i++) await producer.send({ topic: 'm-orders', body: Buffer.from('y') });
    text = await eventually(
      scrape,
      (s) => sample(s, 'tidemq_consumer_lag_messages', { group: 'mg', topic: 'm-orders' }) === 6,
    );
    t.equal(sample(text, 'tidemq_consumer_lag_messages', { group: 'mg', topic: 'm-orders' }), 6, 'lag 6');
    t.equal(sample(text, 'tidemq_messages_in_total', { topic: 'm-orders' }), 9);
    t.equal(sample(text, 'tidemq_bytes_in_total', { topic: 'm-orders' }), inBytes + 4);

    const lag = await http(base, '/admin/lag?group=mg');
    t.same(lag, {
      status: 200,
      json: [
        { group: 'mg', topic: 'm-orders', queueId: 0, consumerOffset: 3, maxOffset: 9, lag: 6, inflight: 2 },
      ],
    });

    // Reset to latest: nothing left, nothing in flight, in the metrics too.
    const reset = await http(base, '/admin/offsets/reset', { group: 'mg', topic: 'm-orders', to: 'latest' });
    t.equal(reset.status, 200);
    text = await scrape();
    t.equal(
      sample(text, 'tidemq_consumer_lag_messages', { group: 'mg', topic: 'm-orders' }),
      0,
      'lag after reset',
    );
    t.equal(sample(text, 'tidemq_consumer_inflight_messages', { group: 'mg', topic: 'm-orders' }), 0);

    // Log: one Settings line per client with its type and id; the producer's termination.
    const settings = await eventually(
      async () => lines.filter((l) => l.msg === 'client settings'),
      (s) => s.length >= 2,
    );
    const producerLine = settings.find((l) => l.client_type === 'PRODUCER');
    const consumerLine = settings.find((l) => l.client_type === 'SIMPLE_CONSUMER');
    t.ok(producerLine?.clientId, 'producer handshake logged with its client id');
    t.equal(consumerLine?.group, 'mg', 'consumer handshake logged with its group');
    t.equal(
      settings.filter((l) => l.clientId === producerLine?.clientId).length,
      1,
      'once per client stream',
    );
    await producer.shutdown();
    clients.splice(clients.indexOf(producer), 1);
    const terminated = await eventually(
      async () => lines.find((l) => l.msg === 'client terminated'),
      (l) => l !== undefined,
    );
    t.equal(terminated?.clientId, producerLine?.clientId, 'termination logged with the client id');
    t.notOk(
      lines.some((l) => /send|receive|ack/i.test(l.msg)),
      'nothing logged on the message path',
    );
  },
);

t.test('server metrics: two servers in one process keep separate registries', async (t) => {
  const a = await startServer(t);
  const b = await startServer(t);
  const clients: { shutdown(): Promise<unknown> }[] = [];
  t.teardown(async () => {
    for (const c of clients) await c.shutdown().catch(() => {});
    await a.close();
    await b.close();
  });
  t.not(a.metricsPort, b.metricsPort);
  const producer = new Producer({ endpoints: `127.0.0.1:${a.port}`, namespace: '', logger: quiet });
  await producer.startup();
  clients.push(producer);
  await producer.send({ topic: 'only-a', body: Buffer.from('abc') });
  const textA = (await http(`http://127.0.0.1:${a.metricsPort}`, '/metrics')).json as string;
  const textB = (await http(`http://127.0.0.1:${b.metricsPort}`, '/metrics')).json as string;
  t.equal(sample(textA, 'tidemq_messages_in_total', { topic: 'only-a' }), 1);
  t.equal(sample(textB, 'tidemq_messages_in_total', { topic: 'only-a' }), undefined, 'not counted by b');

  const noMetrics = await startServer(t, { metricsPort: undefined });
  t.equal(noMetrics.metricsPort, undefined, 'no metrics port unless asked');
  t.equal(noMetrics.metrics, undefined);
  await noMetrics.close();

  // A metrics port in use: start fails with the listen error and leaves the store closed.
  const dir = tempDir(t);
  await t.rejects(
    TidemqServer.start({
      dir,
      host: '127.0.0.1',
      port: 0,
      metricsPort: a.metricsPort!,
      logger: pino({ level: 'silent' }),
      broker: { store: SMALL_STORE },
    }),
    { code: 'EADDRINUSE' },
  );
  const reopened = await TidemqServer.start({
    dir,
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: 'silent' }),
    broker: { store: SMALL_STORE },
  });
  await reopened.close();
});

t.test('admin API: bad requests get typed errors and change nothing', async (t) => {
  const server = await startServer(t);
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${server.metricsPort}`;
  const before = await http(base, '/admin/topics');
  t.same(await http(base, '/admin/topics', { name: 'bad name!' }), {
    status: 400,
    json: { error: { code: 'ILLEGAL_TOPIC', message: badTopic().message } },
  });
  t.match(await http(base, '/admin/topics', '{not json'), {
    status: 400,
    json: { error: { code: 'BAD_REQUEST' } },
  });
  t.match(await http(base, '/admin/topics', { name: 't1', queues: 'many' }), {
    status: 400,
    json: { error: { code: 'BAD_REQUEST' } },
  });
  t.match(await http(base, '/admin/topics', { name: 't1', type: 'SOMETIMES' }), {
    status: 400,
    json: { error: { code: 'BAD_REQUEST' } },
  });
  t.match(await http(base, '/admin/topics', { name: 'rmq_sys_x' }), {
    status: 400,
    json: { error: { code: 'ILLEGAL_TOPIC' } },
  });
  t.match(await http(base, '/admin/offsets/reset', { group: 'g', topic: 'nope', to: 'latest' }), {
    status: 404,
    json: { error: { code: 'TOPIC_NOT_FOUND' } },
  });
  t.match(await http(base, '/admin/offsets/reset', { group: 'g', topic: 'nope', to: 'yesterday' }), {
    status: 400,
    json: { error: { code: 'BAD_REQUEST' } },
  });
  for (const bad of [
    { group: 'g' },
    { group: 'g', maxDeliveryAttempts: 0 },
    { group: 'g', fifo: 'yes' },
    { group: 'g', retryBackoffMs: [] },
    { group: 'g', retries: 3 },
    { group: 'g', reset: true, fifo: true },
    { group: 'bad name!', fifo: true },
  ]) {
    t.match(
      await http(base, '/admin/groups/configure', bad),
      { status: 400, json: { error: { code: /BAD_REQUEST|ILLEGAL_CONSUMER_GROUP/ } } },
      `configure-group refuses ${JSON.stringify(bad)}`,
    );
  }
  t.match(await http(base, '/admin/groups/configure'), {
    status: 405,
    json: { error: { code: 'METHOD_NOT_ALLOWED' } },
  });
  t.match(await http(base, '/admin/nothing'), { status: 404, json: { error: { code: 'NOT_FOUND' } } });
  t.same(await http(base, '/admin/topics'), before, 'no topic was created');
  t.same(await http(base, '/admin/groups'), { status: 200, json: [] }, 'no group was created');
});

/** The broker's own message for an invalid topic name (the API passes it through). */
function badTopic(): Error {
  try {
    checkTopicName('bad name!');
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected checkTopicName to throw');
}

t.test('admin API: changes only from the server host; reads from anywhere', async (t) => {
  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && !i.internal && i.family === 'IPv4')?.address;
  if (!external) {
    t.comment('skipped: this machine has no non-loopback IPv4 address to connect from');
    t.pass('nothing to check without a non-loopback address');
    return;
  }
  const server = await startServer(t, { host: '0.0.0.0' });
  t.teardown(() => server.close());
  const remote = `http://${external}:${server.metricsPort}`;
  t.match(await http(remote, '/admin/topics', { name: 'from-afar' }), {
    status: 403,
    json: { error: { code: 'FORBIDDEN' } },
  });
  t.match(await http(remote, '/admin/groups/configure', { group: 'g', maxDeliveryAttempts: 2 }), {
    status: 403,
    json: { error: { code: 'FORBIDDEN' } },
  });
  t.same(await http(remote, '/admin/groups'), { status: 200, json: [] }, 'no group configured');
  t.same(await http(remote, '/admin/topics'), { status: 200, json: [] }, 'nothing created; reads are open');
  t.match(await http(`http://127.0.0.1:${server.metricsPort}`, '/admin/topics', { name: 'local' }), {
    status: 200,
  });
});

t.test('admin API: no changes from web pages (Origin) or without a JSON content type', async (t) => {
  const server = await startServer(t);
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${server.metricsPort}`;
  t.match(
    await http(
      base,
      '/admin/topics',
      { name: 'from-page' },
      {
        'content-type': 'application/json',
        origin: 'http://evil.example',
      },
    ),
    { status: 403, json: { error: { code: 'FORBIDDEN' } } },
    'a request naming an Origin is refused',
  );
  t.match(
    await http(base, '/admin/topics', { name: 'form-post' }, { 'content-type': 'text/plain' }),
    { status: 415, json: { error: { code: 'UNSUPPORTED_MEDIA_TYPE' } } },
    'a simple (non-JSON) POST is refused',
  );
  t.same(await http(base, '/admin/topics'), { status: 200, json: [] }, 'nothing was created');
});
