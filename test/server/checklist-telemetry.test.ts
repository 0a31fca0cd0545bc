// rocketmq-grpc-v2.md §8 checklist, the client sessions and Telemetry stream with the official
// rocketmq-client-nodejs over loopback: item 1 (producer startup, one Settings from a producer),
// item 25 (shutdown: every client's shutdown() resolves; the server sees the termination and the
// stream ending), item 27 (the server ends the stream; the client reopens it, sends its
// Settings again, and sends keep working). Also: a client with several topics starts up (its
// Settings reply can arrive before it waits for it; the server repeats the reply).
import { ConsumeResult } from 'rocketmq-client-nodejs';
import t from 'tap';
import { sleep } from '../helpers/broker-env.js';
import { receiveN, startHarness, until } from '../helpers/official-client.js';

/** apache.rocketmq.v2.ClientType */
const PRODUCER = 1;
const PUSH_CONSUMER = 2;
const SIMPLE_CONSUMER = 3;

t.test('checklist: sessions and Telemetry', async (t) => {
  const h = await startHarness(t, { pushLongPollingMs: 1000 });

  await t.test('item 1: producer startup resolves fast; one Settings from a producer', async (t) => {
    const t0 = Date.now();
    const producer = await h.producer({ topic: ['t1'] });
    const took = Date.now() - t0;
    t.comment(`producer startup took ${took} ms`);
    t.ok(took < 2000, `startup() resolved at once (${took} ms; a shared test machine may add some)`);
    const [s] = h.server.sessions.list().filter((x) => x.clientId === producer.clientId);
    t.equal(s?.clientType, PRODUCER, 'client_type 1');
    t.equal(s?.settingsCount, 1, 'one Settings message');
    t.same(s?.topics, ['t1'], 'the publishing topics');
    t.equal(s?.openStreams, 1, 'one Telemetry stream');
  });

  await t.test('startup with several topics resolves', async (t) => {
    const topics = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'];
    const t0 = Date.now();
    const producer = await h.producer({ topic: topics });
    t.comment(`six-topic startup took ${Date.now() - t0} ms`);
    const receipt = await producer.send({ topic: 'm6', body: Buffer.from('x') });
    t.match(receipt.messageId, /^01/);
  });

  await t.test('item 27: the server ends the stream; the client comes back', async (t) => {
    const producer = await h.producer({ topic: ['resilient'] });
    const before = await producer.send({ topic: 'resilient', body: Buffer.from('before') });
    const session = () => h.server.sessions.list().find((x) => x.clientId === producer.clientId);
    t.equal(session()?.settingsCount, 1);
    const closedAt = Date.now();
    t.equal(h.server.sessions.disconnect(producer.clientId), 1, 'one stream ended by the server');
    await until(() => (session()?.settingsCount ?? 0) >= 2, 5000, 'the client to resend Settings');
    const back = Date.now() - closedAt;
    t.ok(back >= 800 && back < 4000, `reopened after about a second (${back} ms)`);
    t.equal(session()?.streamsOpened, 2, 'a second stream');
    t.equal(session()?.openStreams, 1, 'one open now');
    const after = await producer.send({ topic: 'resilient', body: Buffer.from('after') });
    const c = await h.simple('g-resilient', 'resilient');
    const got = await receiveN(c, 2, 15_000);
    t.same(
      got.map((m) => m.messageId).sort(),
      [before.messageId, after.messageId].sort(),
      'sends kept working',
    );
  });

  await t.test('item 25: every shutdown resolves; the server sees each client leave', async (t) => {
    const producer = await h.producer({ topic: ['bye'] });
    const simple = await h.simple('g-bye', 'bye');
    const push = await h.push({
      consumerGroup: 'g-bye-push',
      subscriptions: new Map([['bye', '*']]),
      messageListener: { consume: () => ConsumeResult.SUCCESS },
    });
    const ids = [producer.clientId, simple.clientId, push.clientId];
    await until(
      () => h.server.sessions.list().filter((s) => ids.includes(s.clientId)).length === 3,
      5000,
      'three sessions',
    );
    const types = new Map(h.server.sessions.list().map((s) => [s.clientId, s.clientType]));
    t.equal(types.get(simple.clientId), SIMPLE_CONSUMER, 'a simple consumer');
    t.equal(types.get(push.clientId), PUSH_CONSUMER, 'a push consumer');
    // The push client's first assignment scan runs 1 s after startup and is not cancelled by
    // shutdown(): a consumer shut down before it would start polling again afterwards, forever.
    await sleep(1500);
    for (const c of [producer, simple, push]) {
      await h.shutdown(c);
      t.pass(`${c.constructor.name}.shutdown() resolved`);
    }
    await until(
      () => !h.server.sessions.list().some((s) => ids.includes(s.clientId)),
      5000,
      'the server to see NotifyClientTermination and the Telemetry streams end',
    );
    t.pass('all three sessions are gone');
  });
});
