// SendMessage with several messages (a raw gRPC call: the official Node client sends one per
// request): stored as one all-or-nothing batch — one append, every entry OK — or, when any
// message is bad, not at all, with that message's status on the request and on every entry.
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { messagingServiceDefinition } from '../../src/server/proto.js';
import { Code } from '../../src/server/status.js';
import { startHarness } from '../helpers/official-client.js';

type Obj = Record<string, unknown>;
type Reply = {
  status: { code: number; message: string };
  entries: { status: { code: number }; messageId: string; offset?: string | number }[];
};

const msg = (id: string, extra: Obj = {}, sp: Obj = {}): Obj => ({
  topic: { name: 'batch' },
  body: Buffer.from(`body-${id}`),
  ...extra,
  systemProperties: { messageId: id, messageType: 1, ...sp },
});

t.test('send batch: several messages in one SendMessage are stored together or not at all', async (t) => {
  const h = await startHarness(t);
  const broker = h.server.broker;
  broker.createTopic('batch', { queues: 1 });
  const def = messagingServiceDefinition().SendMessage!;
  const client = new grpc.Client(h.endpoints, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const md = new grpc.Metadata();
  md.set('x-mq-client-id', 'batcher@1');
  const send = (messages: Obj[]): Promise<Reply> =>
    new Promise((resolve, reject) =>
      client.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize as (b: Buffer) => Reply,
        { messages },
        md,
        (err, r) => (err ? reject(err) : resolve(r as Reply)),
      ),
    );
  const stored = async (): Promise<string[]> => {
    await broker.store.waitForDispatch();
    const n = broker.store.maxOffset('batch', 0);
    return broker.store.read('batch', 0, 0, n).map((r) => r.body.toString());
  };

  const ok = await send([msg('B1'), msg('B2'), msg('B3', {}, { tag: 'x' })]);
  t.equal(ok.status.code, Code.OK, 'three good messages: OK');
  t.same(
    ok.entries.map((e) => [e.messageId, e.status.code, Number(e.offset)]),
    [
      ['B1', Code.OK, 0],
      ['B2', Code.OK, 1],
      ['B3', Code.OK, 2],
    ],
    'one entry per message, in order, with consecutive queue offsets',
  );
  t.same(await stored(), ['body-B1', 'body-B2', 'body-B3'], 'all three stored');
  const recs = broker.store.read('batch', 0, 0, 3);
  t.equal(new Set(recs.map((r) => r.storeTimestamp)).size, 1, 'stored by one append (one store timestamp)');

  const bad = await send([msg('C1'), msg('C2', { userProperties: { KEYS: 'reserved' } }), msg('C3')]);
  t.equal(bad.status.code, Code.ILLEGAL_MESSAGE_PROPERTY_KEY, "the bad message's status fails the request");
  t.same(
    bad.entries.map((e) => [e.messageId, e.status.code]),
    [
      ['C1', Code.ILLEGAL_MESSAGE_PROPERTY_KEY],
      ['C2', Code.ILLEGAL_MESSAGE_PROPERTY_KEY],
      ['C3', Code.ILLEGAL_MESSAGE_PROPERTY_KEY],
    ],
    'every entry carries it',
  );
  const blank = await send([msg('D1'), msg('')]);
  t.equal(blank.status.code, Code.ILLEGAL_MESSAGE_ID, 'a blank message id fails the whole request');
  t.match(blank.status.message, /message 1/, 'the status says which message');
  const tx = await send([msg('E1'), msg('E2', {}, { messageType: 4 })]);
  t.equal(tx.status.code, Code.BAD_REQUEST, 'a transactional message in a batch fails the request');
  t.same(await stored(), ['body-B1', 'body-B2', 'body-B3'], 'nothing of the failed requests was stored');

  const single = await send([msg('F1')]);
  t.equal(single.status.code, Code.OK, 'one message still goes on its own');
  t.same((await stored()).slice(3), ['body-F1'], 'and is stored');
});
