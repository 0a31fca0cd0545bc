// Consumer-group settings on a server: the config file's groups are stored in the broker
// (persisted; a changed file wins for the groups it names, others keep what was stored), and
// `tidemq admin configure-group` (a CLI child, on --server and on --dir) changes a group at run
// time: the official PushConsumer gets new Settings and its retries end in the DLQ after the
// new number of attempts.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ConsumeResult, type MessageView, type PushConsumer } from 'rocketmq-client-nodejs';
import t from 'tap';
import { decodeJournal, JOURNAL_TOPIC } from '../../src/broker/journal.js';
import { TidemqServer } from '../../src/server/server.js';
import { SMALL_STORE, tempDir } from '../helpers/broker-env.js';
import { receiveN, startHarness, until } from '../helpers/official-client.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, '..', '..', 'src', 'cli', 'main.js');
const STORE_ENV = {
  ...process.env,
  TIDEMQ_SEGMENT_BYTES: String(SMALL_STORE.segmentBytes),
  TIDEMQ_PREFAULT: 'false',
};

/** `tidemq admin …` as a child, without blocking this process (the server may run in it). */
async function admin(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [cli, 'admin', ...args], {
      env: STORE_ENV,
      timeout: 60_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Group-settings journal records in the server's log from `from` on. */
function groupRecords(server: TidemqServer, from: number): number {
  let n = 0;
  for (const rec of server.broker.store.scan(from)) {
    if (rec.topic === JOURNAL_TOPIC && decodeJournal(rec.body).op === 'group') n++;
  }
  return n;
}

interface GroupRowJson {
  group: string;
  configured: boolean;
  maxDeliveryAttempts: number;
  retryBackoffMs: number[];
  fifo?: boolean;
}

t.test(
  'group settings: the config file is stored; restarts without it or with another keep rules',
  async (t) => {
    const dir = tempDir(t);
    const start = (groups?: Record<string, object>) =>
      TidemqServer.start({
        dir,
        host: '127.0.0.1',
        port: 0,
        broker: { store: SMALL_STORE },
        ...(groups && { groups, configSource: 'cfg.json' }),
      });

    let server = await start({
      billing: { maxDeliveryAttempts: 3, retryBackoffMs: [100, 200] },
      audit: { fifo: true },
    });
    t.same(
      server.broker.groupInfo('billing'),
      {
        name: 'billing',
        configured: true,
        maxDeliveryAttempts: 3,
        retryBackoffMs: [100, 200],
        fifo: undefined,
      },
      'the file reaches the broker',
    );
    await server.configureGroup({ group: 'audit', fifo: false });
    const wrote = server.broker.store.stats().wrotePosition;
    await server.close();

    server = await start();
    t.same(
      server.groupSettings('billing'),
      { maxDeliveryAttempts: 3, retryBackoffMs: [100, 200] },
      'kept without the file',
    );
    t.same(server.groupSettings('audit'), { fifo: false }, 'the run-time change is kept too');
    await server.close();

    server = await start({ billing: { maxDeliveryAttempts: 3, retryBackoffMs: [100, 200] } });
    const before = server.broker.store.stats().wrotePosition;
    t.ok(before >= wrote, 'the store kept its log');
    t.same(
      server.groupSettings('billing'),
      { maxDeliveryAttempts: 3, retryBackoffMs: [100, 200] },
      'unchanged file',
    );
    await server.close();

    server = await start({ billing: { fifo: true }, audit: { maxDeliveryAttempts: 5 } });
    t.same(server.groupSettings('billing'), { fifo: true }, 'a changed entry replaces the stored one');
    t.equal(server.broker.groupInfo('billing').maxDeliveryAttempts, 17, 'fields left out take the defaults');
    t.same(server.groupSettings('audit'), { maxDeliveryAttempts: 5 }, 'the file wins over a run-time change');
    t.equal(groupRecords(server, wrote), 2, 'one record per changed group');
    await server.close();
  },
);

t.test(
  'group settings: tidemq admin --dir configure-group on a stopped store, seen by the server',
  async (t) => {
    const dir = tempDir(t);
    (await TidemqServer.start({ dir, host: '127.0.0.1', port: 0, broker: { store: SMALL_STORE } })).close();
    await new Promise((r) => setTimeout(r, 200));
    const bad = await admin('--dir', dir, 'configure-group', 'billing');
    t.not(bad.code, 0, 'nothing to change is refused');
    t.match(bad.stderr, /nothing to change/);
    const badList = await admin('--dir', dir, 'configure-group', 'billing', '--retry-backoff', '10,x');
    t.not(badList.code, 0, 'a bad backoff list is refused');
    t.match(badList.stderr, /delays in ms separated by commas/);

    const r = await admin(
      '--dir',
      dir,
      'configure-group',
      'billing',
      '--max-attempts',
      '4',
      '--fifo',
      '--retry-backoff',
      '50,500',
    );
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /group billing: max delivery attempts 4, fifo yes, retry backoff 50,500 ms/);
    const nofifo = await admin('--dir', dir, 'configure-group', 'billing', '--no-fifo');
    t.match(nofifo.stdout, /max delivery attempts 4, fifo no/, 'settings not given stay');
    const list = await admin('--dir', dir, 'groups');
    t.match(list.stdout, /GROUP\s+TOPICS\s+LAG\s+INFLIGHT\s+MAX-ATTEMPTS\s+FIFO\s+RETRY-BACKOFF\n/, 'header');
    t.match(
      list.stdout,
      /billing\s+-\s+0\s+0\s+4\s+no\s+50,500\n/,
      'a configured group without consumers is listed',
    );

    const server = await TidemqServer.start({
      dir,
      host: '127.0.0.1',
      port: 0,
      broker: { store: SMALL_STORE },
    });
    t.same(server.groupSettings('billing'), {
      maxDeliveryAttempts: 4,
      fifo: false,
      retryBackoffMs: [50, 500],
    });
    await server.close();
    const reset = await admin('--dir', dir, 'configure-group', 'billing', '--reset');
    t.match(reset.stdout, /group billing \(broker defaults\): max delivery attempts 17, fifo topic/);
  },
);

t.test('group settings: configure-group on a running server; the push consumer follows', async (t) => {
  const h = await startHarness(t, {
    groups: { 'g-rt': { maxDeliveryAttempts: 10 } },
    pushLongPollingMs: 2000,
    metricsPort: 0,
  });
  const server = `http://127.0.0.1:${h.server.metricsPort}`;
  const producer = await h.producer({ topic: ['rt'] });
  const attempts: number[] = [];
  const consumer: PushConsumer = await h.push({
    consumerGroup: 'g-rt',
    subscriptions: new Map([['rt', '*']]),
    messageListener: {
      consume(m: MessageView) {
        attempts.push(m.deliveryAttempt ?? 0);
        return ConsumeResult.FAILURE;
      },
    },
  });
  // The client's retry policy, as its Settings set it (BaseClient.getSettings()).
  const maxAttempts = (): number =>
    (consumer as unknown as { getSettings(): { getRetryPolicy(): { getMaxAttempts(): number } } })
      .getSettings()
      .getRetryPolicy()
      .getMaxAttempts();
  await until(() => maxAttempts() === 10, 5000, 'the configured attempts in the client');

  const r = await admin('--server', server, '--json', 'configure-group', 'g-rt', '--max-attempts', '2');
  t.equal(r.code, 0, r.stderr);
  t.match(JSON.parse(r.stdout), { name: 'g-rt', configured: true, maxDeliveryAttempts: 2 });
  await until(() => maxAttempts() === 2, 5000, 'new Settings with 2 attempts in the running client');
  const rows = JSON.parse((await admin('--server', server, '--json', 'groups')).stdout) as GroupRowJson[];
  t.match(
    rows.find((g) => g.group === 'g-rt'),
    { configured: true, maxDeliveryAttempts: 2 },
    'groups shows it',
  );

  const receipt = await producer.send({ topic: 'rt', body: Buffer.from('poison') });
  const dlq = await h.simple('g-rt-dlq-reader', '%DLQ%g-rt');
  const [dead] = await receiveN(dlq, 1, 15_000, 20_000);
  t.equal(dead?.messageId, receipt.messageId, 'in %DLQ%g-rt after the new number of attempts');
  t.same(attempts, [1, 2], 'delivered twice (the new threshold), not ten times');

  const refused = await admin('--server', server, 'configure-group', 'g-rt', '--max-attempts', '0');
  t.not(refused.code, 0, 'a bad value is refused');
  t.match(refused.stderr, /positive integer/);
  t.equal(h.server.broker.groupInfo('g-rt').maxDeliveryAttempts, 2, 'and changes nothing');
});
