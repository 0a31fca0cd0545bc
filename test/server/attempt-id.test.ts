// ReceiveMessage attempt_id (raw gRPC, as the official push consumer sends it): a client whose
// receive failed on its side asks again with the same attempt_id and gets the same messages under
// the same receipt handles — not nothing until their invisible time runs out. Messages acked
// meanwhile are left out; another attempt_id, or another client, gets an ordinary receive.
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { messagingServiceDefinition } from '../../src/server/proto.js';
import { Code } from '../../src/server/status.js';
import { startHarness } from '../helpers/official-client.js';

type Obj = Record<string, unknown>;
interface Delivered {
  id: string;
  handle: string;
  attempt: number;
}

t.test('attempt_id: a retried receive gets the same messages and handles', async (t) => {
  const h = await startHarness(t);
  const broker = h.server.broker;
  broker.createTopic('retry-me', { queues: 1 });
  const producer = broker.producer();
  for (let i = 0; i < 3; i++) await producer.send({ topic: 'retry-me', body: Buffer.from(`m${i}`) });
  await broker.store.waitForDispatch();
  const def = messagingServiceDefinition();
  const client = new grpc.Client(h.endpoints, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const meta = (clientId: string): grpc.Metadata => {
    const md = new grpc.Metadata();
    md.set('x-mq-client-id', clientId);
    return md;
  };
  const receive = (clientId: string, attemptId: string): Promise<{ code: number; got: Delivered[] }> =>
    new Promise((resolve, reject) => {
      const got: Delivered[] = [];
      let code = -1;
      const s = client.makeServerStreamRequest(
        def.ReceiveMessage!.path,
        def.ReceiveMessage!.requestSerialize,
        def.ReceiveMessage!.responseDeserialize as (b: Buffer) => Obj,
        {
          group: { name: 'g-attempt' },
          messageQueue: { topic: { name: 'retry-me' }, id: 0 },
          filterExpression: { type: 1, expression: '*' },
          batchSize: 8,
          invisibleDuration: { seconds: 60 },
          longPollingTimeout: { seconds: 0, nanos: 200_000_000 },
          attemptId,
        },
        meta(clientId),
        { deadline: Date.now() + 10_000 },
      );
      s.on('data', (d: Obj) => {
        if (d.status) code = code === -1 ? (d.status as { code: number }).code : code;
        const m = d.message as { systemProperties: Obj } | undefined;
        if (m) {
          const sp = m.systemProperties;
          got.push({
            id: sp.messageId as string,
            handle: sp.receiptHandle as string,
            attempt: sp.deliveryAttempt as number,
          });
        }
      });
      s.on('error', reject);
      s.on('end', () => resolve({ code, got }));
    });

  const first = await receive('c1@1', 'attempt-A');
  t.equal(first.got.length, 3, 'the first receive claims all three');
  // The client "lost" that answer and retries with the same attempt_id.
  const again = await receive('c1@1', 'attempt-A');
  t.same(again.got, first.got, 'the retry gets the same messages, handles and delivery attempts');
  const other = await receive('c1@1', 'attempt-B');
  t.equal(other.code, Code.MESSAGE_NOT_FOUND, 'another attempt_id gets an ordinary receive: nothing visible');
  const stranger = await receive('c2@1', 'attempt-A');
  t.equal(stranger.code, Code.MESSAGE_NOT_FOUND, "another client's attempt_id is its own");

  // Ack one; the next retry of the same attempt leaves it out.
  const ack = await new Promise<Obj>((resolve, reject) =>
    client.makeUnaryRequest(
      def.AckMessage!.path,
      def.AckMessage!.requestSerialize,
      def.AckMessage!.responseDeserialize as (b: Buffer) => Obj,
      {
        group: { name: 'g-attempt' },
        topic: { name: 'retry-me' },
        entries: [{ messageId: first.got[0]!.id, receiptHandle: first.got[0]!.handle }],
      },
      meta('c1@1'),
      (err, r) => (err ? reject(err) : resolve(r as Obj)),
    ),
  );
  t.equal((ack.status as { code: number }).code, Code.OK, 'acked the first');
  const third = await receive('c1@1', 'attempt-A');
  t.same(
    third.got.map((d) => d.id),
    first.got.slice(1).map((d) => d.id),
    'a later retry returns only what is still claimed by that attempt',
  );
  t.same(third.got[0]?.handle, first.got[1]?.handle, 'under the handles it was given');
});
