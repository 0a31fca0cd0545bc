// `tidemq admin` as a child process: on a stopped store directory (--dir) and on a running
// `tidemq serve` (--server, its admin API on the metrics port); both answer alike.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Producer, SimpleConsumer } from 'rocketmq-client-nodejs';
import t from 'tap';
import { openBroker, SMALL_STORE, tempDir } from '../helpers/broker-env.js';
import { startChild } from '../helpers/child.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, '..', '..', 'src', 'cli', 'main.js');
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

/** The store settings of the test's brokers (openBroker's SMALL_STORE), for the children too. */
const STORE_ENV = {
  ...process.env,
  TIDEMQ_SEGMENT_BYTES: String(SMALL_STORE.segmentBytes),
  TIDEMQ_PREFAULT: 'false',
};

function admin(...args: string[]) {
  return adminWith(STORE_ENV, ...args);
}

function adminWith(env: NodeJS.ProcessEnv, ...args: string[]) {
  const r = spawnSync(process.execPath, [cli, 'admin', ...args], { encoding: 'utf8', timeout: 60_000, env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function adminJson<T>(...args: string[]): T {
  const r = admin('--json', ...args);
  if (r.code !== 0) throw new Error(`tidemq admin ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

interface LagRow {
  group: string;
  topic: string;
  queueId: number;
  consumerOffset: number;
  maxOffset: number;
  lag: number;
  inflight: number;
}

t.test('tidemq admin --dir: list, create, reset on a stopped store', async (t) => {
  const dir = tempDir(t);
  // 6 messages on a 2-queue topic; group billing takes 4 and acks 3 of them.
  const broker = await openBroker(dir);
  broker.createTopic('orders', { queues: 2 });
  const producer = broker.producer();
  for (let i = 0; i < 6; i++) await producer.send({ topic: 'orders', body: Buffer.from(`m${i}`) });
  await broker.store.waitForDispatch();
  const consumer = broker.simpleConsumer({ consumerGroup: 'billing', subscriptions: { orders: '*' } });
  const got = [];
  while (got.length < 4) got.push(...(await consumer.receive(4 - got.length, 60_000)));
  for (const m of got.slice(0, 3)) await consumer.ack(m);
  const offsets = [0, 1].map((q) => broker.consumerOffset('billing', 'orders', q));
  await broker.close();

  // Without TIDEMQ_SEGMENT_BYTES, the store is opened with the segment size it was written with.
  const topics = adminWith(process.env, '--dir', dir, 'topics');
  t.equal(
    statSync(path.join(dir, 'commitlog', '00000000000000000000')).size,
    SMALL_STORE.segmentBytes,
    'the active segment keeps its size',
  );
  t.equal(topics.code, 0, topics.stderr);
  t.match(topics.stdout, /^TOPIC\s+TYPE\s+QUEUES\s+MESSAGES\n/, 'a table with a header');
  t.match(topics.stdout, /orders\s+NORMAL\s+2\s+6\n/, 'the topic with its retained messages');

  const lag = adminJson<LagRow[]>('--dir', dir, 'lag', '--group', 'billing');
  t.equal(lag.length, 2, 'one row per queue');
  t.same(
    lag.map((r) => r.consumerOffset),
    offsets,
    'consumer offsets are the broker’s',
  );
  t.same(
    lag.map((r) => r.maxOffset),
    [3, 3],
    'max offsets',
  );
  t.equal(
    lag.reduce((s, r) => s + r.lag, 0),
    6 - offsets[0]! - offsets[1]!,
  );
  const groups = adminJson<{ group: string; topics: string[]; lag: number }[]>('--dir', dir, 'groups');
  t.same(
    groups.map((g) => [g.group, g.topics]),
    [['billing', ['orders']]],
  );
  t.match(
    admin('--dir', dir, 'lag').stdout,
    /total lag \d+, in flight 1\n$/,
    'the unacked message is still invisible in the stopped store',
  );

  const created = admin('--dir', dir, 'create-topic', 'audit', '--queues', '3', '--type', 'fifo');
  t.equal(created.code, 0, created.stderr);
  t.equal(created.stdout, 'topic audit: 3 queues, FIFO\n');

  const reset = adminJson<{ queues: LagRow[] }>(
    '--dir',
    dir,
    'reset-offset',
    'billing',
    'orders',
    '--to',
    'latest',
  );
  t.same(
    reset.queues.map((r) => r.lag),
    [0, 0],
    'nothing left after reset to latest',
  );

  // Bad input: typed error, exit 2, nothing written.
  const bad = admin('--dir', dir, 'create-topic', 'bad name!');
  t.equal(bad.code, 2);
  t.match(bad.stderr, /ILLEGAL_TOPIC/);
  t.match(admin('--dir', dir, 'reset-offset', 'billing', 'nope', '--to', 'latest').stderr, /TOPIC_NOT_FOUND/);
  t.match(admin('--dir', path.join(dir, 'missing'), 'topics').stderr, /NO_STORE/);
  t.match(admin('topics').stderr, /exactly one of --dir .* or --server/);

  const after = await openBroker(dir);
  t.same(
    after
      .topics()
      .filter((x) => !x.name.startsWith('rmq_sys_'))
      .map((x) => [x.name, x.queues, x.type])
      .sort(),
    [
      ['audit', 3, 'FIFO'],
      ['orders', 2, 'NORMAL'],
    ],
    'the topic table as the admin commands left it',
  );
  t.same(
    [0, 1].map((q) => after.consumerOffset('billing', 'orders', q)),
    [3, 3],
    'the reset to latest is persisted',
  );
  await after.close();
});

t.test('tidemq admin --server: a running serve, the official client, and --dir once stopped', async (t) => {
  const dir = tempDir(t);
  const child = startChild(cli, ['serve', '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0'], {
    env: { ...STORE_ENV, TIDEMQ_DIR: dir, TIDEMQ_LOG_LEVEL: 'warn' },
  });
  t.teardown(() => {
    if (child.child.exitCode === null) child.child.kill('SIGKILL');
  });
  const serving = await child.waitForLine((l) => l.includes('serving'), 30_000);
  const port = Number(/:(\d+) /.exec(serving)?.[1]);
  const metricsLine = await child.waitForLine((l) => l.includes('metrics on'), 30_000);
  const server = /(http:\/\/[\d.]+:\d+)/.exec(metricsLine)![1]!;

  const locked = admin('--dir', dir, 'topics');
  t.equal(locked.code, 2);
  t.match(locked.stderr, /STORE_LOCKED: .*in use by a running server.*--server/, 'points to --server');

  t.equal(
    admin('--server', server, 'create-topic', 'events', '--queues', '1').stdout,
    'topic events: 1 queue, NORMAL\n',
  );
  const producer = new Producer({ endpoints: `127.0.0.1:${port}`, namespace: '', logger: quiet });
  await producer.startup();
  t.teardown(() => producer.shutdown().catch(() => {}));
  for (let i = 0; i < 5; i++) await producer.send({ topic: 'events', body: Buffer.from(`e${i}`) });
  const consumer = new SimpleConsumer({
    endpoints: `127.0.0.1:${port}`,
    namespace: '',
    consumerGroup: 'readers',
    subscriptions: new Map([['events', '*']]),
    awaitDuration: 2000,
    logger: quiet,
  });
  await consumer.startup();
  t.teardown(() => consumer.shutdown().catch(() => {}));
  const got: unknown[] = [];
  const until = Date.now() + 15_000;
  while (got.length < 2 && Date.now() < until) got.push(...(await consumer.receive(2 - got.length, 60_000)));
  t.equal(got.length, 2);
  await consumer.ack(got[0] as never);

  const lag = adminJson<LagRow[]>('--server', server, 'lag', '--topic', 'events');
  t.same(lag, [
    { group: 'readers', topic: 'events', queueId: 0, consumerOffset: 1, maxOffset: 5, lag: 4, inflight: 1 },
  ]);
  const table = admin('--server', server, 'groups');
  t.match(
    table.stdout,
    /^GROUP\s+TOPICS\s+LAG\s+INFLIGHT\s+MAX-ATTEMPTS\s+FIFO\s+RETRY-BACKOFF\nreaders\s+events\s+4\s+1\s+17\s+topic\s+10000,30000,/,
  );
  t.match(admin('--server', server, 'topics').stdout, /events\s+NORMAL\s+1\s+5\n/);
  t.match(
    admin('--server', server, 'reset-offset', 'readers', 'nope', '--to', 'latest').stderr,
    /TOPIC_NOT_FOUND/,
    'errors come back typed',
  );
  const reset = adminJson<{ queues: LagRow[] }>(
    '--server',
    server,
    'reset-offset',
    'readers',
    'events',
    '--to',
    '3',
  );
  t.same(
    reset.queues.map((r) => [r.consumerOffset, r.lag, r.inflight]),
    [[0, 5, 0]],
    'a time in ms before every message: back to the start, in-flight forgotten',
  );
  const before = adminJson<LagRow[]>('--server', server, 'lag');

  await consumer.shutdown();
  await producer.shutdown();
  child.child.kill('SIGTERM');
  const exit = await child.exited;
  t.equal(exit.code, 0, exit.stderr);
  t.same(
    adminJson<LagRow[]>('--dir', dir, 'lag'),
    before,
    '--dir on the stopped store answers as --server did',
  );
  t.match(admin('--server', server, 'topics').stderr, /UNREACHABLE: cannot reach the admin API/);
});
