// AckMessage with several entries (a raw gRPC call: the official client acks one per request):
// all acks start before any is awaited, so the broker journals them as one record per queue;
// each entry keeps its own status.
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { ackedOffsets } from '../../src/broker/consumer-state.js';
import { decodeJournal, JOURNAL_TOPIC } from '../../src/broker/journal.js';
import { messagingServiceDefinition } from '../../src/server/proto.js';
import { Code } from '../../src/server/status.js';
import { startHarness } from '../helpers/official-client.js';

type Obj = Record<string, unknown>;

t.test('ack batch: one AckMessage, one journal record per queue, per-entry statuses', async (t) => {
  const h = await startHarness(t);
  const broker = h.server.broker;
  broker.createTopic('acks', { queues: 1 });
  const producer = broker.producer();
  for (let i = 0; i < 5; i++) await producer.send({ topic: 'acks', body: Buffer.from(`a${i}`) });
  await broker.store.waitForDispatch();
  // The group's progress is the broker's: handles from an embedded consumer of the group are
  // the ones a gRPC client of the same group would hold.
  const c = broker.simpleConsumer({
    consumerGroup: 'g-acks',
    subscriptions: { acks: '*' },
    awaitDuration: 0,
  });
  const views = await c.receive(5, 60_000);
  t.equal(views.length, 5, 'five received');
  // The same group on another topic: its handle must not be acked through a request for 'acks'
  // (the request's topic is what the caller was authorized for).
  broker.createTopic('other', { queues: 1 });
  await producer.send({ topic: 'other', body: Buffer.from('o') });
  await broker.store.waitForDispatch();
  const otherConsumer = broker.simpleConsumer({
    consumerGroup: 'g-acks',
    subscriptions: { other: '*' },
    awaitDuration: 0,
  });
  const [foreign] = await otherConsumer.receive(1, 60_000);
  t.ok(foreign, 'a message of the same group on another topic is in flight');
  const from = broker.store.stats().wrotePosition;

  const def = messagingServiceDefinition().AckMessage!;
  const client = new grpc.Client(h.endpoints, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const md = new grpc.Metadata();
  md.set('x-mq-client-id', 'acker@1');
  const request = {
    group: { name: 'g-acks' },
    topic: { name: 'acks' },
    entries: [
      ...views.map((v) => ({ messageId: v.messageId, receiptHandle: v.receiptHandle })),
      { messageId: 'bogus', receiptHandle: 'not-a-handle' },
      { messageId: foreign!.messageId, receiptHandle: foreign!.receiptHandle },
    ],
  };
  const reply = await new Promise<Obj>((resolve, reject) =>
    client.makeUnaryRequest(
      def.path,
      def.requestSerialize,
      def.responseDeserialize as (b: Buffer) => Obj,
      request,
      md,
      (err, r) => (err ? reject(err) : resolve(r as Obj)),
    ),
  );
  const entries = reply.entries as { messageId: string; status: { code: number } }[];
  t.equal((reply.status as { code: number }).code, Code.MULTIPLE_RESULTS, 'mixed results overall');
  t.same(
    entries.map((e) => [e.messageId, e.status.code]),
    [
      ...views.map((v) => [v.messageId, Code.OK]),
      ['bogus', Code.INVALID_RECEIPT_HANDLE],
      [foreign!.messageId, Code.INVALID_RECEIPT_HANDLE],
    ],
    'each entry has its own status, in request order',
  );

  const acks = [];
  for (const rec of broker.store.scan(from)) {
    if (rec.topic !== JOURNAL_TOPIC) continue;
    const j = decodeJournal(rec.body);
    if (j.op === 'ack') acks.push(j);
  }
  t.equal(acks.length, 1, 'one ack record for the queue');
  t.same(
    ackedOffsets(acks[0] as { o?: number[]; r?: [number, number][] }).sort(),
    views.map((v) => v.offset).sort(),
    'holding all five offsets',
  );
  t.same(await c.receive(5, 60_000), [], 'nothing left to deliver');
  await t.resolves(otherConsumer.ack(foreign!), 'the refused handle stays valid for its own topic');
});
