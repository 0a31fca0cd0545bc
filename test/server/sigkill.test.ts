/**
 * Server crash: `tidemq serve` (the CLI, as a child process) is killed with SIGKILL while
 * producers and simple consumers of the official client run at load; it restarts on the same
 * directory and port and the clients carry on.
 *
 * What the user relies on: every message whose send() resolved is delivered at least once —
 * to the group that was consuming through the crash, and to a group created after it (so the
 * message is really in the store, not only in some consumer's hands). The server runs with the
 * default flush mode (async: a send is answered once its record is sealed in the page cache,
 * which a process crash cannot take back).
 *
 * Default: one kill at a seeded moment; TIDEMQ_SOAK=1: five kills, and a second run with
 * TIDEMQ_FLUSH=sync. TIDEMQ_SEED replays.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Producer, SimpleConsumer } from 'rocketmq-client-nodejs';
import t from 'tap';
import { verifyStore } from '../../src/cli/verify.js';
import { tempDir } from '../helpers/fs.js';
import { seededRng, soak } from '../helpers/rng.js';
import { startServe } from '../helpers/serve-child.js';
import type { TestContext } from '../helpers/tap.js';

const KILLS = soak ? 5 : 1;
const PRODUCERS = 3;
const SENDS_IN_FLIGHT = 4;
const CONSUMERS = 2;
const TOPIC = 'crash-orders';
/** Short, so what a consumer held when the server died comes back soon after the restart. */
const INVISIBLE_MS = 5000;
/** Longer than the late group's whole run: it must get each message exactly once. */
const LATE_INVISIBLE_MS = 120_000;
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

interface Received {
  messageId: string;
}

interface GroupTally {
  /** Distinct message ids delivered. */
  seen: Set<string>;
  deliveries: number;
  /** Message ids whose ack the server confirmed. */
  acked: Set<string>;
  /** Deliveries that came after the message's ack was confirmed. */
  afterAck: string[];
}

const tally = (): GroupTally => ({ seen: new Set(), deliveries: 0, acked: new Set(), afterAck: [] });

async function crashRun(t: TestContext, flush: 'sync' | undefined): Promise<void> {
  const rng = seededRng(t, 'server sigkill');
  const dir = tempDir(t);
  let server = await startServe(dir, 0, flush);
  const port = server.port;
  t.teardown(() => {
    if (server.child.child.exitCode === null) server.child.child.kill('SIGKILL');
  });
  const endpoints = `127.0.0.1:${port}`;

  const resolved = new Set<string>();
  const main = tally();
  const late = tally();
  let sendFailures = 0;
  let receiveFailures = 0;
  let ackFailures = 0;
  let producing = true;
  let consuming = true;

  const producers: Producer[] = [];
  for (let i = 0; i < PRODUCERS; i++) {
    const p = new Producer({ endpoints, namespace: '', topics: [TOPIC], logger: quiet });
    await p.startup();
    producers.push(p);
  }
  const consumer = (group: string): SimpleConsumer =>
    new SimpleConsumer({
      endpoints,
      namespace: '',
      consumerGroup: group,
      subscriptions: new Map([[TOPIC, '*']]),
      awaitDuration: 1000,
      logger: quiet,
    });
  const consumers: SimpleConsumer[] = [];
  for (let i = 0; i < CONSUMERS; i++) {
    const c = consumer('crash-g');
    await c.startup();
    consumers.push(c);
  }
  t.teardown(async () => {
    for (const c of [...producers, ...consumers]) await c.shutdown().catch(() => {});
  });

  let seq = 0;
  const sendLoop = async (p: Producer): Promise<void> => {
    while (producing) {
      const n = seq++;
      try {
        const r = await p.send({ topic: TOPIC, body: Buffer.from(`m-${n}`), keys: [`k${n}`] });
        resolved.add(r.messageId);
      } catch {
        sendFailures++;
        await sleep(50);
      }
    }
  };
  const consumeLoop = async (
    c: SimpleConsumer,
    g: GroupTally,
    invisibleMs: number,
    running: () => boolean,
  ): Promise<void> => {
    while (running()) {
      let got: Received[];
      try {
        got = (await c.receive(32, invisibleMs)) as unknown as Received[];
      } catch {
        receiveFailures++;
        await sleep(100);
        continue;
      }
      for (const m of got) {
        // an ack the server confirmed is journaled before the reply: no delivery may follow it
        if (g.acked.has(m.messageId)) g.afterAck.push(m.messageId);
        g.seen.add(m.messageId);
        g.deliveries++;
        try {
          await c.ack(m as never);
          g.acked.add(m.messageId);
        } catch {
          ackFailures++;
        }
      }
    }
  };

  const loops: Promise<void>[] = [];
  for (const p of producers) for (let k = 0; k < SENDS_IN_FLIGHT; k++) loops.push(sendLoop(p));
  const consumerLoops = consumers.map((c) => consumeLoop(c, main, INVISIBLE_MS, () => consuming));

  for (let kill = 1; kill <= KILLS; kill++) {
    const runMs = rng.range(800, 2500);
    await sleep(runMs);
    const before = resolved.size;
    server.child.child.kill('SIGKILL');
    const result = await server.child.exited;
    t.equal(result.signal, 'SIGKILL', `kill ${kill} after ${runMs} ms (${before} sends resolved so far)`);
    await sleep(rng.range(0, 500));
    server = await startServe(dir, port, flush);
    t.equal(server.port, port, `restarted on port ${port}`);
  }
  // keep producing a little after the last restart: the clients must recover, not just drain
  const afterRestart = resolved.size;
  const until = Date.now() + 20_000;
  while (resolved.size < afterRestart + 50 && Date.now() < until) await sleep(100);
  producing = false;
  await Promise.all(loops);
  t.ok(
    resolved.size > afterRestart,
    `sends resolve again after the restart (${resolved.size - afterRestart} more)`,
  );

  const missing = (seen: Set<string>) => [...resolved].filter((id) => !seen.has(id));
  const deadline = Date.now() + 40_000;
  while (missing(main.seen).length > 0 && Date.now() < deadline) await sleep(200);
  consuming = false;
  await Promise.all(consumerLoops);

  // a group created after the crash reads the whole topic from the store
  const lateConsumer = consumer('crash-late');
  await lateConsumer.startup();
  consumers.push(lateConsumer);
  let lateRunning = true;
  const lateLoop = consumeLoop(lateConsumer, late, LATE_INVISIBLE_MS, () => lateRunning);
  const lateDeadline = Date.now() + 30_000;
  while (missing(late.seen).length > 0 && Date.now() < lateDeadline) await sleep(200);
  lateRunning = false;
  await lateLoop;

  const lost = missing(main.seen);
  const lostInStore = missing(late.seen);
  t.comment(
    `sends resolved ${resolved.size}, send failures ${sendFailures}; group crash-g: ${main.seen.size} distinct ` +
      `delivered in ${main.deliveries} deliveries (${main.deliveries - main.seen.size} redeliveries), ` +
      `${main.acked.size} acks confirmed, receive failures ${receiveFailures}, ack failures ${ackFailures}; ` +
      `group crash-late: ${late.seen.size} distinct; lost ${lost.length}`,
  );
  t.same(lost.slice(0, 10), [], 'every resolved send was delivered to the consuming group');
  t.same(lostInStore.slice(0, 10), [], 'every resolved send is in the store (a new group reads it)');
  t.same(main.afterAck.slice(0, 10), [], 'no message is delivered again after its ack was confirmed');
  t.equal(late.deliveries, late.seen.size, 'the new group, which saw no crash, got each message once');

  for (const c of [...producers, ...consumers]) await c.shutdown().catch(() => {});
  server.child.child.kill('SIGTERM');
  const exit = await server.child.exited;
  t.equal(exit.code, 0, 'clean shutdown after the crashes');
  const report = verifyStore(dir);
  t.same(report.problems, [], `tidemq verify: ${report.records} records, sound`);
}

t.test('server SIGKILL: every resolved send is delivered after the restart (default flush mode)', (t) =>
  crashRun(t, undefined),
);
if (soak) {
  t.test('server SIGKILL: every resolved send is delivered after the restart (sync flush)', (t) =>
    crashRun(t, 'sync'),
  );
}
