/**
 * Server fuzz: hostile and malformed requests against `tidemq serve` (in-process, over loopback)
 * through @grpc/grpc-js directly, with the protos of the installed rocketmq-client-nodejs.
 *
 * 1. A table of malformed requests, each with the v2 status code it must get (missing fields,
 *    invalid names, huge batches, absurd durations, unknown handles, undecodable bytes).
 * 2. Garbage on the TCP port (raw bytes, an HTTP/1 request, a truncated HTTP/2 preface held
 *    open), oversized gRPC messages (plain and gzip-inflated): the server keeps answering.
 * 3. Seeded random and mutated requests to every implemented method: every answer is a v2 status
 *    below 50000 (a 5xxxx means the server failed on its own input handling), never a crash.
 * 4. Afterwards the official client still sends and receives, the server closes cleanly, and
 *    `tidemq verify` finds the store sound.
 *
 * Default 400 random requests, 4 in flight at once; TIDEMQ_SOAK=1 sends 20 000. TIDEMQ_SEED
 * replays a run.
 */
import http2 from 'node:http2';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { Producer, SimpleConsumer } from 'rocketmq-client-nodejs';
import t from 'tap';
import { verifyStore } from '../../src/cli/verify.js';
import { messagingServiceDefinition } from '../../src/server/proto.js';
import { TidemqServer } from '../../src/server/server.js';
import { Code } from '../../src/server/status.js';
import { SMALL_STORE, tempDir } from '../helpers/broker-env.js';
import { type Rng, seededRng, soak } from '../helpers/rng.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const RANDOM_REQUESTS = soak ? 20_000 : 400;
/** Random requests in flight at once. */
const WORKERS = 4;
const MAX_BODY = 4_161_536;
/** Idle-connection limit of the second server that checks it (default 5 min). */
const IDLE_MS = 1000;

type Obj = Record<string, unknown>;
interface Answer {
  /** v2 status code of the response (first stream message for streams). */
  code?: number;
  message?: string;
  /** gRPC status code when the call failed at the transport level. */
  grpcCode?: number;
  details?: string;
  response?: Obj;
}

const def = messagingServiceDefinition();
const UNARY = [
  'QueryRoute',
  'Heartbeat',
  'SendMessage',
  'QueryAssignment',
  'AckMessage',
  'ChangeInvisibleDuration',
  'EndTransaction',
  'NotifyClientTermination',
  'RecallMessage',
] as const;
type Method = (typeof UNARY)[number] | 'ReceiveMessage' | 'Telemetry';

/** Raw calls: objects are encoded with the proto's own serializer, bytes go out as they are. */
class RawClient {
  readonly client: grpc.Client;

  constructor(port: number, options: grpc.ClientOptions = {}) {
    this.client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options);
  }

  /** Call metadata; null: without x-mq-client-id. */
  metadata(clientId: string | null = 'fuzz@1'): grpc.Metadata {
    const md = new grpc.Metadata();
    if (clientId !== null) md.set('x-mq-client-id', clientId);
    return md;
  }

  encode(method: Method, request: Obj): Buffer {
    return def[method]!.requestSerialize(request);
  }

  /** One call of any method; the answer's first status. */
  call(method: Method, request: Obj | Buffer, md = this.metadata(), timeoutMs = 3000): Promise<Answer> {
    const bytes = Buffer.isBuffer(request) ? request : this.encode(method, request);
    const path = def[method]!.path;
    const decode = def[method]!.responseDeserialize as (b: Buffer) => Obj;
    const deadline = Date.now() + timeoutMs;
    const failed = (err: grpc.ServiceError): Answer => ({ grpcCode: err.code, details: err.details });
    const first = (r: Obj): Answer => {
      const s = r.status as { code?: number; message?: string } | undefined;
      return { code: s?.code, message: s?.message, response: r };
    };
    if (method === 'ReceiveMessage') {
      return new Promise((resolve) => {
        const out: Obj[] = [];
        const s = this.client.makeServerStreamRequest(path, (b: Buffer) => b, decode, bytes, md, {
          deadline,
        });
        s.on('data', (d: Obj) => out.push(d));
        s.on('error', (e: grpc.ServiceError) => resolve(failed(e)));
        s.on('end', () => resolve(out[0] ? first(out[0]) : { details: 'empty stream' }));
      });
    }
    if (method === 'Telemetry') {
      return new Promise((resolve) => {
        const s = this.client.makeBidiStreamRequest(path, (b: Buffer) => b, decode, md, { deadline });
        s.on('data', (d: Obj) => {
          resolve(first(d));
          s.cancel();
        });
        s.on('error', (e: grpc.ServiceError) => resolve(failed(e)));
        s.on('end', () => resolve({ details: 'no reply' }));
        s.write(bytes);
        setTimeout(() => {
          resolve({ details: 'no reply' });
          s.cancel();
        }, 300);
      });
    }
    return new Promise((resolve) => {
      this.client.makeUnaryRequest(
        path,
        (b: Buffer) => b,
        decode,
        bytes,
        md,
        { deadline },
        (err, r) => resolve(err ? failed(err) : first(r as Obj)),
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

const msg = (topic: string, extra: Obj = {}, sp: Obj = {}): Obj => ({
  topic: { name: topic },
  body: Buffer.from('fuzz'),
  ...extra,
  systemProperties: { messageId: `01FUZZ${Math.random().toString(16).slice(2, 10)}`, messageType: 1, ...sp },
});
const send = (...messages: Obj[]): Obj => ({ messages });
const receive = (extra: Obj): Obj => ({
  group: { name: 'fz-g' },
  messageQueue: { topic: { name: 'fz-t' } },
  filterExpression: { type: 1, expression: '*' },
  batchSize: 4,
  invisibleDuration: { seconds: 10 },
  longPollingTimeout: { seconds: 1 },
  ...extra,
});
const hours = (h: number) => ({ seconds: h * 3600, nanos: 0 });

/** [name, method, request, expected v2 code] — request as object or raw bytes. */
function malformedCases(): [string, Method, Obj | Buffer, number][] {
  const manyProps = Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`p${i}`, 'v']));
  const huge = Array.from({ length: 2000 }, () => msg('fz-t'));
  const twoMiB = Buffer.alloc(2 * 1024 * 1024, 7);
  const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]);
  return [
    ['send: no messages', 'SendMessage', send(), Code.BAD_REQUEST],
    ['send: no topic', 'SendMessage', send({ ...msg('x'), topic: undefined }), Code.ILLEGAL_TOPIC],
    ['send: topic with a space', 'SendMessage', send(msg('a b')), Code.ILLEGAL_TOPIC],
    ['send: topic of 200 chars', 'SendMessage', send(msg('t'.repeat(200))), Code.ILLEGAL_TOPIC],
    ['send: system topic', 'SendMessage', send(msg('rmq_sys_JOURNAL')), Code.ILLEGAL_TOPIC],
    ['send: unknown %-topic', 'SendMessage', send(msg('%nope')), Code.TOPIC_NOT_FOUND],
    ['send: no body', 'SendMessage', send(msg('fz-t', { body: undefined })), Code.MESSAGE_BODY_EMPTY],
    [
      'send: body over the limit',
      'SendMessage',
      send(msg('fz-t', { body: Buffer.alloc(MAX_BODY + 1) })),
      Code.MESSAGE_BODY_TOO_LARGE,
    ],
    [
      'send: blank message id',
      'SendMessage',
      send(msg('fz-t', {}, { messageId: ' ' })),
      Code.ILLEGAL_MESSAGE_ID,
    ],
    [
      'send: no message id',
      'SendMessage',
      send(msg('fz-t', {}, { messageId: undefined })),
      Code.ILLEGAL_MESSAGE_ID,
    ],
    ['send: tag with |', 'SendMessage', send(msg('fz-t', {}, { tag: 'a|b' })), Code.ILLEGAL_MESSAGE_TAG],
    [
      'send: key with a space',
      'SendMessage',
      send(msg('fz-t', {}, { keys: ['a b'] })),
      Code.ILLEGAL_MESSAGE_KEY,
    ],
    [
      'send: 64-byte message group',
      'SendMessage',
      send(msg('fz-t', {}, { messageGroup: 'g'.repeat(64), messageType: 2 })),
      Code.ILLEGAL_MESSAGE_GROUP,
    ],
    [
      'send: reserved property',
      'SendMessage',
      send(msg('fz-t', { userProperties: { KEYS: 'x' } })),
      Code.ILLEGAL_MESSAGE_PROPERTY_KEY,
    ],
    [
      'send: 129 properties',
      'SendMessage',
      send(msg('fz-t', { userProperties: manyProps })),
      Code.MESSAGE_PROPERTIES_TOO_LARGE,
    ],
    [
      'send: delivery 48 h away',
      'SendMessage',
      send(msg('fz-t', {}, { deliveryTimestamp: { seconds: Math.floor(Date.now() / 1000) + 48 * 3600 } })),
      Code.ILLEGAL_DELIVERY_TIME,
    ],
    [
      'send: delivery in year 285 000 000',
      'SendMessage',
      send(msg('fz-t', {}, { deliveryTimestamp: { seconds: 9e15 } })),
      Code.ILLEGAL_DELIVERY_TIME,
    ],
    [
      'send: born timestamp beyond 2^53 ms',
      'SendMessage',
      send(msg('fz-t', {}, { bornTimestamp: { seconds: 9e15 } })),
      Code.BAD_REQUEST,
    ],
    [
      'send: FIFO topic without a message group',
      'SendMessage',
      send(msg('fz-fifo')),
      Code.MESSAGE_PROPERTY_CONFLICT_WITH_TYPE,
    ],
    ['send: 2000 messages in one request', 'SendMessage', send(...huge), Code.PAYLOAD_TOO_LARGE],
    [
      'send: three 2 MiB bodies in one request',
      'SendMessage',
      send(msg('fz-t', { body: twoMiB }), msg('fz-t', { body: twoMiB }), msg('fz-t', { body: twoMiB })),
      Code.PAYLOAD_TOO_LARGE,
    ],
    ['send: undecodable bytes', 'SendMessage', garbage, Code.BAD_REQUEST],
    ['route: no topic', 'QueryRoute', {}, Code.ILLEGAL_TOPIC],
    ['route: unknown %-topic', 'QueryRoute', { topic: { name: '%nope' } }, Code.TOPIC_NOT_FOUND],
    ['route: undecodable bytes', 'QueryRoute', garbage, Code.BAD_REQUEST],
    ['assignment: topic with a space', 'QueryAssignment', { topic: { name: 'a b' } }, Code.ILLEGAL_TOPIC],
    ['heartbeat: undecodable bytes', 'Heartbeat', garbage, Code.BAD_REQUEST],
    ['receive: no group', 'ReceiveMessage', receive({ group: undefined }), Code.ILLEGAL_CONSUMER_GROUP],
    [
      'receive: group with a space',
      'ReceiveMessage',
      receive({ group: { name: 'a b' } }),
      Code.ILLEGAL_CONSUMER_GROUP,
    ],
    ['receive: no topic', 'ReceiveMessage', receive({ messageQueue: {} }), Code.ILLEGAL_TOPIC],
    [
      'receive: unknown %-topic',
      'ReceiveMessage',
      receive({ messageQueue: { topic: { name: '%nope' } } }),
      Code.TOPIC_NOT_FOUND,
    ],
    [
      'receive: SQL filter that does not parse',
      'ReceiveMessage',
      receive({ filterExpression: { type: 2, expression: 'a >>> 1' } }),
      Code.ILLEGAL_FILTER_EXPRESSION,
    ],
    [
      'receive: empty SQL filter',
      'ReceiveMessage',
      receive({ filterExpression: { type: 2, expression: '' } }),
      Code.ILLEGAL_FILTER_EXPRESSION,
    ],
    [
      'receive: tag filter of 20 000 characters',
      'ReceiveMessage',
      receive({ filterExpression: { type: 1, expression: 'a||'.repeat(6000) } }),
      Code.ILLEGAL_FILTER_EXPRESSION,
    ],
    [
      'receive: empty tag filter',
      'ReceiveMessage',
      receive({ filterExpression: { type: 1, expression: '||' } }),
      Code.ILLEGAL_FILTER_EXPRESSION,
    ],
    [
      'receive: invisible 13 h',
      'ReceiveMessage',
      receive({ invisibleDuration: hours(13) }),
      Code.ILLEGAL_INVISIBLE_TIME,
    ],
    [
      'receive: invisible -5 s',
      'ReceiveMessage',
      receive({ invisibleDuration: { seconds: -5 } }),
      Code.ILLEGAL_INVISIBLE_TIME,
    ],
    [
      'receive: invisible 9e15 s',
      'ReceiveMessage',
      receive({ invisibleDuration: { seconds: 9e15 } }),
      Code.ILLEGAL_INVISIBLE_TIME,
    ],
    [
      'receive: negative poll and batch',
      'ReceiveMessage',
      receive({
        messageQueue: { topic: { name: 'fz-empty' } },
        longPollingTimeout: { seconds: -9e15 },
        batchSize: -7,
      }),
      Code.MESSAGE_NOT_FOUND,
    ],
    ['receive: undecodable bytes', 'ReceiveMessage', garbage, Code.BAD_REQUEST],
    ['ack: no entries', 'AckMessage', { group: { name: 'fz-g' } }, Code.BAD_REQUEST],
    [
      'ack: no group',
      'AckMessage',
      { entries: [{ messageId: 'x', receiptHandle: '1.0.0.fz-t' }] },
      Code.ILLEGAL_CONSUMER_GROUP,
    ],
    [
      'ack: malformed handle',
      'AckMessage',
      { group: { name: 'fz-g' }, entries: [{ messageId: 'x', receiptHandle: 'not a handle' }] },
      Code.INVALID_RECEIPT_HANDLE,
    ],
    [
      'ack: unknown handle',
      'AckMessage',
      { group: { name: 'fz-g' }, entries: [{ messageId: 'x', receiptHandle: 'zz.3.99999.fz-t' }] },
      Code.INVALID_RECEIPT_HANDLE,
    ],
    [
      'ack: 2000 entries',
      'AckMessage',
      {
        group: { name: 'fz-g' },
        entries: Array.from({ length: 2000 }, () => ({ messageId: 'x', receiptHandle: '1.0.0.fz-t' })),
      },
      Code.PAYLOAD_TOO_LARGE,
    ],
    ['ack: undecodable bytes', 'AckMessage', garbage, Code.BAD_REQUEST],
    [
      'change invisible: no duration',
      'ChangeInvisibleDuration',
      { group: { name: 'fz-g' }, receiptHandle: '1.0.0.fz-t' },
      Code.ILLEGAL_INVISIBLE_TIME,
    ],
    [
      'change invisible: 13 h',
      'ChangeInvisibleDuration',
      { group: { name: 'fz-g' }, receiptHandle: '1.0.0.fz-t', invisibleDuration: hours(13) },
      Code.ILLEGAL_INVISIBLE_TIME,
    ],
    [
      'change invisible: unknown handle',
      'ChangeInvisibleDuration',
      { group: { name: 'fz-g' }, receiptHandle: '1.0.0.fz-t', invisibleDuration: { seconds: 1 } },
      Code.INVALID_RECEIPT_HANDLE,
    ],
    [
      'end transaction: blank id',
      'EndTransaction',
      { transactionId: ' ', resolution: 1 },
      Code.INVALID_TRANSACTION_ID,
    ],
    [
      'end transaction: malformed id',
      'EndTransaction',
      { transactionId: 'xyz', resolution: 1 },
      Code.INVALID_TRANSACTION_ID,
    ],
    [
      'end transaction: unknown id',
      'EndTransaction',
      { transactionId: 'F'.repeat(32), resolution: 2 },
      Code.INVALID_TRANSACTION_ID,
    ],
    ['end transaction: no resolution', 'EndTransaction', { transactionId: '0'.repeat(32) }, Code.BAD_REQUEST],
    [
      'recall: malformed handle',
      'RecallMessage',
      { topic: { name: 'fz-t' }, recallHandle: '%%%' },
      Code.BAD_REQUEST,
    ],
    [
      'recall: unknown handle',
      'RecallMessage',
      { topic: { name: 'fz-t' }, recallHandle: Buffer.from('v1 fz-t 123456789 x').toString('base64url') },
      Code.NOT_FOUND,
    ],
    ['telemetry: undecodable bytes', 'Telemetry', garbage, Code.BAD_REQUEST],
    // wrong wire types: protobufjs refuses some and reads others as empty values
    ['send: messages as a varint', 'SendMessage', Buffer.from('0801', 'hex'), Code.BAD_REQUEST],
    ['route: topic name as a varint', 'QueryRoute', Buffer.from('0a021005', 'hex'), Code.ILLEGAL_TOPIC],
    [
      'end transaction: id as a varint',
      'EndTransaction',
      Buffer.from('1807', 'hex'),
      Code.INVALID_TRANSACTION_ID,
    ],
  ];
}

// --- random and mutated requests ---------------------------------------------------------------

const GOOD_NAMES = ['fz-t', 'fz-fifo', 'fz-r1', 'fz-r2', '%DLQ%fz-g'];
const BAD_NAMES = ['', ' ', 'a b', 't'.repeat(128), 'rmq_sys_x', '%nope', '日本', 'a\u0000b', '../etc'];

function randomString(rng: Rng): string {
  switch (rng.int(5)) {
    case 0:
      return '';
    case 1:
      return rng.pick(['a', 'x|y', ' ', '\u0001', 'ü', '*', '||', 'a||b']);
    case 2:
      return 'k'.repeat(rng.pick([63, 64, 255, 256, 5000]));
    case 3:
      return String.fromCharCode(...Array.from({ length: rng.range(1, 20) }, () => rng.range(0, 0x2fff)));
    default:
      return rng.bytes(rng.range(1, 12)).toString('base64url');
  }
}

const name = (rng: Rng): string => (rng.bool(0.75) ? rng.pick(GOOD_NAMES) : rng.pick(BAD_NAMES));
const int = (rng: Rng): number =>
  rng.pick([0, 1, -1, 7, 32, 1024, 1025, 2 ** 31 - 1, -(2 ** 31), rng.range(-100, 5000)]);
const duration = (rng: Rng): Obj | undefined =>
  rng.bool(0.1)
    ? undefined
    : {
        seconds: rng.pick([0, 1, 2, 10, -1, 43_200, 43_201, 9e15, -9e15]),
        nanos: rng.pick([0, 1, 999_999_999, -1, 2 ** 31 - 1]),
      };
const timestamp = (rng: Rng): Obj | undefined =>
  rng.bool(0.6)
    ? undefined
    : {
        seconds: rng.pick([0, -1, 9e15, Math.floor(Date.now() / 1000) + rng.range(-100, 100_000)]),
        nanos: 0,
      };
const body = (rng: Rng): Buffer | undefined =>
  rng.pick([
    undefined,
    Buffer.alloc(0),
    rng.bytes(rng.range(1, 64)),
    Buffer.alloc(rng.bool(0.05) ? MAX_BODY + 1 : 300),
  ]);
const handle = (rng: Rng, seen: string[]): string =>
  rng.bool(0.4) && seen.length > 0
    ? rng.pick(seen)
    : rng.pick([
        '',
        'zz',
        '1.0.0.fz-t',
        `${rng.int(999)}.${int(rng)}.${int(rng)}.${name(rng)}`,
        randomString(rng),
      ]);

function randomMessage(rng: Rng): Obj {
  const props: Obj = {};
  for (let i = rng.pick([0, 0, 1, 3, 130]); i > 0; i--)
    props[rng.bool(0.9) ? `p${i}` : randomString(rng)] = randomString(rng);
  return {
    topic: rng.bool(0.95)
      ? { name: name(rng), resourceNamespace: rng.bool(0.1) ? randomString(rng) : '' }
      : undefined,
    body: body(rng),
    userProperties: props,
    systemProperties: {
      messageId: rng.bool(0.9) ? `01${rng.bytes(16).toString('hex').toUpperCase()}` : randomString(rng),
      messageType: rng.pick([1, 1, 1, 2, 3, 4, 0, 5, 99]),
      tag: rng.bool(0.5) ? randomString(rng) : undefined,
      keys: rng.bool(0.3) ? [randomString(rng), randomString(rng)] : [],
      messageGroup: rng.bool(0.2) ? randomString(rng) : undefined,
      deliveryTimestamp: timestamp(rng),
      bornTimestamp: timestamp(rng),
      queueId: int(rng),
    },
  };
}

function randomRequest(
  rng: Rng,
  method: Method,
  seen: { handles: string[]; txIds: string[]; recalls: string[] },
): Obj {
  const group = { name: rng.bool(0.8) ? rng.pick(['fz-g', 'fz-g2', 'fz-g3']) : name(rng) };
  const topic = { name: name(rng) };
  switch (method) {
    case 'SendMessage':
      return { messages: Array.from({ length: rng.pick([1, 1, 1, 2, 5, 0]) }, () => randomMessage(rng)) };
    case 'ReceiveMessage':
      return {
        group,
        messageQueue: { topic, id: int(rng) },
        filterExpression: {
          type: rng.pick([1, 1, 2, 0, 7]),
          expression: rng.bool(0.7) ? '*' : randomString(rng),
        },
        batchSize: int(rng),
        invisibleDuration: duration(rng),
        longPollingTimeout: duration(rng),
        autoRenew: rng.bool(0.2),
        attemptId: rng.bool(0.2) ? randomString(rng) : undefined,
      };
    case 'AckMessage':
      return {
        group,
        topic,
        entries: Array.from({ length: rng.pick([1, 1, 0, 3]) }, () => ({
          messageId: randomString(rng),
          receiptHandle: handle(rng, seen.handles),
        })),
      };
    case 'ChangeInvisibleDuration':
      return {
        group,
        topic,
        receiptHandle: handle(rng, seen.handles),
        invisibleDuration: duration(rng),
        messageId: 'x',
      };
    case 'EndTransaction':
      return {
        topic,
        messageId: randomString(rng),
        transactionId: rng.bool(0.5) && seen.txIds.length > 0 ? rng.pick(seen.txIds) : randomString(rng),
        resolution: rng.pick([0, 1, 2, 3]),
        source: rng.pick([0, 1, 2]),
      };
    case 'RecallMessage':
      return {
        topic,
        recallHandle: rng.bool(0.5) && seen.recalls.length > 0 ? rng.pick(seen.recalls) : randomString(rng),
      };
    case 'QueryRoute':
    case 'QueryAssignment':
      return {
        topic,
        group,
        endpoints: rng.bool(0.5)
          ? { scheme: int(rng), addresses: [{ host: randomString(rng), port: int(rng) }] }
          : undefined,
      };
    case 'Heartbeat':
      return { group, clientType: int(rng) };
    case 'NotifyClientTermination':
      return { group };
    case 'Telemetry':
      return {
        settings: {
          clientType: rng.pick([1, 2, 3, 0, 99]),
          publishing: rng.bool(0.5)
            ? { topics: [topic], maxBodySize: int(rng), validateMessageType: true }
            : undefined,
          subscription: rng.bool(0.5)
            ? {
                group,
                subscriptions: [{ topic, expression: { type: 1, expression: randomString(rng) } }],
                longPollingTimeout: duration(rng),
              }
            : undefined,
          requestTimeout: duration(rng),
        },
      };
  }
}

/** Flip, drop, insert, truncate or duplicate bytes of an encoded request. */
function mutate(rng: Rng, bytes: Buffer): Buffer {
  let b = Buffer.from(bytes);
  for (let n = rng.range(1, 4); n > 0; n--) {
    const at = b.length === 0 ? 0 : rng.int(b.length);
    switch (rng.int(6)) {
      case 0:
        if (b.length > 0) b[at] = rng.int(256);
        break;
      case 1:
        b = b.subarray(0, at);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), rng.bytes(rng.range(1, 16)), b.subarray(at)]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + rng.range(1, 8))]);
        break;
      case 4:
        b = Buffer.concat([b, b.subarray(at, at + rng.range(1, 64))]);
        break;
      default:
        b = Buffer.concat([b.subarray(0, at), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), b.subarray(at)]);
    }
  }
  return b;
}

// --- raw transport -------------------------------------------------------------------------------

/** Write bytes to the port; resolves when the server closes the socket or after holdMs. */
function rawSocket(port: number, bytes: Buffer | string, holdMs: number): Promise<'closed' | 'open'> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      s.destroy();
      resolve('open');
    }, holdMs);
    s.on('error', () => {});
    s.resume();
    s.on('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
    s.write(bytes);
  });
}

t.test('server fuzz: hostile requests get v2 statuses; the server and store survive', async (t) => {
  const rng = seededRng(t, 'server fuzz');
  const dir = tempDir(t);
  const server = await TidemqServer.start({
    dir,
    host: '127.0.0.1',
    port: 0,
    broker: { store: SMALL_STORE },
  });
  let closed = false;
  t.teardown(async () => {
    if (!closed) await server.close();
  });
  server.broker.createTopic('fz-fifo', { type: 'FIFO' });
  const raw = new RawClient(server.port);
  t.teardown(() => raw.close());
  const alive = async (): Promise<boolean> =>
    (await raw.call('QueryRoute', { topic: { name: 'fz-t' } })).code === Code.OK;

  await t.test('malformed requests: the right v2 status each', async (t) => {
    for (const [what, method, request, expected] of malformedCases()) {
      const a = await raw.call(method, request);
      t.equal(a.code, expected, `${what}: ${a.code ?? `gRPC ${a.grpcCode}`} ${a.message ?? a.details ?? ''}`);
      if (method === 'SendMessage' && a.response) {
        const entries = a.response.entries as unknown[];
        const n = Buffer.isBuffer(request) ? 0 : ((request.messages as unknown[]).length ?? 0);
        if (expected !== Code.BAD_REQUEST && expected !== Code.PAYLOAD_TOO_LARGE)
          t.equal(entries.length, n, `${what}: one entry per message`);
      }
    }
    t.equal(
      (await raw.call('SendMessage', send(msg('fz-t')), raw.metadata(null))).code,
      Code.CLIENT_ID_REQUIRED,
      'send without x-mq-client-id',
    );
    const a = await raw.call('ForwardMessageToDeadLetterQueue' as Method, {});
    t.ok(
      a.grpcCode === grpc.status.UNIMPLEMENTED || a.code !== undefined,
      'an unserved method is a clean answer',
    );
    // nothing the table sent was written: the topic it names holds no message
    let stored = 0;
    for (let q = 0; q < 4; q++) stored += server.broker.reader.maxOffset('fz-t', q);
    t.equal(stored, 0, 'no message of a rejected request was stored');
  });

  await t.test('garbage on the port: the connection is dropped, the server keeps serving', async (t) => {
    t.equal(
      await rawSocket(server.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 5000),
      'closed',
      'HTTP/1 request',
    );
    t.equal(await rawSocket(server.port, rng.bytes(4096), 5000), 'closed', 'random bytes');
    const preface = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
    t.equal(
      await rawSocket(server.port, Buffer.concat([Buffer.from(preface), rng.nonZeroBytes(512)]), 5000),
      'closed',
      'HTTP/2 preface, then junk frames',
    );
    // a truncated preface held open must not block anyone else
    const held = rawSocket(server.port, preface.slice(0, 10), 1000);
    t.ok(await alive(), 'answers while a truncated preface is held open');
    await held;
    // ... and is dropped once the connection has been idle long enough (a second server with a
    // short limit, so the clients of this one are not disconnected while idle between checks)
    const short = await TidemqServer.start({
      dir: tempDir(t),
      host: '127.0.0.1',
      port: 0,
      broker: { store: SMALL_STORE },
      idleConnectionMs: IDLE_MS,
    });
    const dropped = await rawSocket(short.port, preface.slice(0, 10), IDLE_MS + 10_000);
    await short.close();
    t.equal(dropped, 'closed', 'a truncated preface is dropped after the idle time');
    // HTTP/2 but not gRPC
    const session = http2.connect(`http://127.0.0.1:${server.port}`);
    session.on('error', () => {});
    const status = await new Promise<string>((resolve) => {
      const req = session.request({
        ':method': 'POST',
        ':path': '/apache.rocketmq.v2.MessagingService/SendMessage',
        'content-type': 'text/plain',
      });
      req.on('response', (h) => resolve(String(h[':status'])));
      req.on('error', (e) => resolve(e.message));
      req.end('hello');
    });
    session.close();
    t.not(status, '200', `a non-gRPC HTTP/2 request is refused (${status})`);
    t.ok(await alive(), 'still serving');
  });

  await t.test('oversized messages: RESOURCE_EXHAUSTED, nothing stored', async (t) => {
    const big = raw.encode('SendMessage', send(msg('fz-big', { body: Buffer.alloc(17 * 1024 * 1024, 1) })));
    const a = await raw.call('SendMessage', big, raw.metadata(), 10_000);
    t.equal(a.grpcCode, grpc.status.RESOURCE_EXHAUSTED, `17 MiB request: ${a.details}`);
    const gz = new RawClient(server.port, { 'grpc.default_compression_algorithm': 2 });
    const b = await gz.call(
      'SendMessage',
      send(msg('fz-big', { body: Buffer.alloc(20 * 1024 * 1024) })),
      gz.metadata(),
      10_000,
    );
    gz.close();
    t.equal(b.grpcCode, grpc.status.RESOURCE_EXHAUSTED, `gzip request inflating to 20 MiB: ${b.details}`);
    t.notOk(server.broker.getTopic('fz-big'), 'the topic was never even created');
    t.ok(await alive(), 'still serving');
  });

  await t.test(`random and mutated requests (${RANDOM_REQUESTS})`, async (t) => {
    const seed = rng;
    const methods: Method[] = [...UNARY, 'ReceiveMessage', 'Telemetry'];
    const seen = { handles: [] as string[], txIds: [] as string[], recalls: [] as string[] };
    const codes = new Map<string, number>();
    const bad: string[] = [];
    const clients = ['fuzz@1', 'fuzz@2', 'other@3'];
    // WORKERS clients at once, each with its own generator forked from the seed; the handles and
    // ids they reuse from each other depend on the interleaving, so a replay is close, not exact
    const worker = async (w: number): Promise<void> => {
      const rng = seed.fork(w);
      for (let i = w; i < RANDOM_REQUESTS; i += WORKERS) {
        const method = rng.pick(methods);
        const request = randomRequest(rng, method, seen);
        let bytes: Buffer;
        try {
          bytes = raw.encode(method, request);
        } catch {
          continue; // the generator made something protobufjs itself refuses to encode
        }
        const mutated = rng.bool(0.3);
        if (mutated) bytes = mutate(rng, bytes);
        const md = raw.metadata(rng.bool(0.95) ? rng.pick(clients) : null);
        const a = await raw.call(method, bytes, md, method === 'ReceiveMessage' ? 1500 : 3000);
        const key = a.code !== undefined ? String(a.code) : `grpc-${a.grpcCode ?? a.details}`;
        codes.set(key, (codes.get(key) ?? 0) + 1);
        const acceptable =
          (a.code !== undefined && a.code >= Code.OK && a.code < Code.INTERNAL_ERROR) ||
          // a stream the server had not answered when the short deadline hit, or a Telemetry
          // command it has nothing to say to (no settings)
          a.grpcCode === grpc.status.DEADLINE_EXCEEDED ||
          (method === 'Telemetry' && a.code === undefined && a.grpcCode === undefined);
        if (!acceptable && bad.length < 20) {
          bad.push(
            `#${i} ${method}${mutated ? ' (mutated)' : ''}: ${a.code ?? `gRPC ${a.grpcCode}`} ${a.message ?? a.details} — ${bytes.toString('base64').slice(0, 400)}`,
          );
        }
        // feed real handles, transaction ids and recall handles back into later requests
        const r = a.response;
        if (i % 25 === 0) {
          const group = { name: rng.pick(['fz-g', 'fz-g2']) };
          const topic = { name: rng.pick(GOOD_NAMES) };
          const got = await receiveAll(raw, receive({ group, messageQueue: { topic } }));
          seen.handles.push(...got.map((d) => d.handle));
        }
        if (method === 'SendMessage' && r) {
          for (const e of (r.entries as Obj[]) ?? []) {
            if (e.transactionId) seen.txIds.push(String(e.transactionId));
            if (e.recallHandle) seen.recalls.push(String(e.recallHandle));
          }
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    // real receipt handles: receive what the fuzz sent, then ack/change with them at random
    for (let i = 0; i < 20; i++) {
      const got = await receiveAll(raw, {
        ...receive({ group: { name: rng.pick(['fz-g', 'fz-g2']) } }),
        messageQueue: { topic: { name: rng.pick(GOOD_NAMES) } },
      });
      for (const { handle: h } of got) {
        const a = await raw.call(rng.pick(['AckMessage', 'ChangeInvisibleDuration'] as const), {
          group: { name: rng.pick(['fz-g', 'fz-g2', 'fz-g3']) },
          topic: { name: 'fz-t' },
          entries: [
            {
              messageId: 'x',
              receiptHandle: rng.bool(0.8) ? h : mutate(rng, Buffer.from(h)).toString('latin1'),
            },
          ],
          receiptHandle: h,
          invisibleDuration: duration(rng),
        });
        if (a.code === undefined || a.code >= Code.INTERNAL_ERROR)
          bad.push(`handle ${h}: ${a.code} ${a.message ?? a.details}`);
      }
    }
    t.comment(
      `status codes: ${[...codes]
        .sort()
        .map(([k, v]) => `${k}×${v}`)
        .join(' ')}`,
    );
    t.same(bad, [], 'every answer is a v2 status below 50000');
    t.ok(await alive(), 'still serving');
  });

  // 30 s of waiting, so only in the long run
  if (soak) {
    await t.test('a long poll asking for 285 million years and no deadline ends after 30 s', async (t) => {
      const started = Date.now();
      const code = await new Promise<number | undefined>((resolve) => {
        const s = raw.client.makeServerStreamRequest(
          def.ReceiveMessage!.path,
          (b: Buffer) => b,
          def.ReceiveMessage!.responseDeserialize as (b: Buffer) => Obj,
          raw.encode(
            'ReceiveMessage',
            receive({ longPollingTimeout: { seconds: 9e15 }, messageQueue: { topic: { name: 'fz-empty' } } }),
          ),
          raw.metadata(),
          {},
        );
        let first: number | undefined;
        s.on('data', (d: Obj) => {
          first ??= (d.status as { code?: number } | undefined)?.code;
        });
        s.on('error', () => resolve(undefined));
        s.on('end', () => resolve(first));
      });
      const ms = Date.now() - started;
      t.equal(code, Code.MESSAGE_NOT_FOUND, 'answered "no new message"');
      t.ok(ms >= 25_000 && ms < 45_000, `after ${ms} ms`);
    });
  }

  await t.test('one receipt handle used by racing acks and changes: exactly one wins', async (t) => {
    const sent = new Set<string>();
    for (let i = 0; i < 24; i++) {
      const m = msg('fz-race');
      const a = await raw.call('SendMessage', send(m));
      t.equal(a.code, Code.OK);
      sent.add((m.systemProperties as { messageId: string }).messageId);
    }
    const race = {
      group: { name: 'fz-race-g' },
      messageQueue: { topic: { name: 'fz-race' } },
      batchSize: 32,
    };
    // a send resolves before the consume queues are dispatched: poll until all are visible
    const got: Delivery[] = [];
    for (const until = Date.now() + 15_000; got.length < sent.size && Date.now() < until; ) {
      got.push(...(await receiveAll(raw, receive(race))));
      if (got.length < sent.size) await new Promise((r) => setTimeout(r, 50));
    }
    t.same(got.map((d) => d.messageId).sort(), [...sent].sort(), 'all received');
    const group = { name: 'fz-race-g' };
    const topic = { name: 'fz-race' };
    const backNow = new Set<string>();
    let winners = 0;
    await Promise.all(
      got.map(async ({ handle, messageId }) => {
        const moves = [
          ['ack', raw.call('AckMessage', { group, topic, entries: [{ messageId, receiptHandle: handle }] })],
          ['ack', raw.call('AckMessage', { group, topic, entries: [{ messageId, receiptHandle: handle }] })],
          [
            'now',
            raw.call('ChangeInvisibleDuration', {
              group,
              topic,
              receiptHandle: handle,
              invisibleDuration: { seconds: 0 },
              messageId,
            }),
          ],
          [
            'later',
            raw.call('ChangeInvisibleDuration', {
              group,
              topic,
              receiptHandle: handle,
              invisibleDuration: { seconds: 600 },
              messageId,
            }),
          ],
        ] as const;
        const answers = await Promise.all(moves.map(async ([kind, a]) => [kind, (await a).code] as const));
        const won = answers.filter(([, code]) => code === Code.OK);
        const lost = answers.filter(([, code]) => code !== Code.OK);
        winners += won.length;
        t.equal(won.length, 1, `${messageId}: one of ack, ack, change 0 s, change 600 s wins`);
        t.ok(
          lost.every(([, code]) => code === Code.INVALID_RECEIPT_HANDLE),
          `${messageId}: the others get INVALID_RECEIPT_HANDLE`,
        );
        if (won[0]?.[0] === 'now') backNow.add(messageId);
      }),
    );
    t.equal(winners, got.length, 'one winner per handle');
    const again = await receiveAll(raw, receive(race));
    t.same(
      again.map((d) => d.messageId).sort(),
      [...backNow].sort(),
      'exactly the messages a 0 s change won are visible again',
    );
  });

  await t.test('afterwards: the official client sends and receives', async (t) => {
    const endpoints = `127.0.0.1:${server.port}`;
    const producer = new Producer({ endpoints, namespace: '', logger: quiet });
    await producer.startup();
    const consumer = new SimpleConsumer({
      endpoints,
      namespace: '',
      consumerGroup: 'after-fuzz',
      subscriptions: new Map([['after-fuzz', '*']]),
      awaitDuration: 2000,
      logger: quiet,
    });
    await consumer.startup();
    const sent = new Set<string>();
    for (let i = 0; i < 5; i++)
      sent.add((await producer.send({ topic: 'after-fuzz', body: Buffer.from(`m${i}`) })).messageId);
    const got = new Set<string>();
    const until = Date.now() + 15_000;
    while (got.size < sent.size && Date.now() < until) {
      for (const m of (await consumer.receive(16, 15_000)) as unknown as { messageId: string }[]) {
        got.add(m.messageId);
        await consumer.ack(m as never);
      }
    }
    t.same([...got].sort(), [...sent].sort(), 'all five received and acked');
    await producer.shutdown();
    await consumer.shutdown();
  });

  await server.close();
  closed = true;
  const report = verifyStore(dir);
  t.same(report.problems, [], `tidemq verify: ${report.records} records, ${report.entries} entries, sound`);
});

interface Delivery {
  handle: string;
  messageId: string;
}

/** One receive that does not wait; the receipt handles and message ids of what it got. */
async function receiveAll(raw: RawClient, request: Obj): Promise<Delivery[]> {
  const path = def.ReceiveMessage!.path;
  const decode = def.ReceiveMessage!.responseDeserialize as (b: Buffer) => Obj;
  return new Promise((resolve) => {
    const handles: Delivery[] = [];
    const s = raw.client.makeServerStreamRequest(
      path,
      (b: Buffer) => b,
      decode,
      raw.encode('ReceiveMessage', { ...request, longPollingTimeout: { seconds: 0 } }),
      raw.metadata(),
      { deadline: Date.now() + 3000 },
    );
    s.on('data', (d: Obj) => {
      const sp = (d.message as { systemProperties?: { receiptHandle?: string; messageId?: string } })
        ?.systemProperties;
      if (sp?.receiptHandle) handles.push({ handle: sp.receiptHandle, messageId: sp.messageId ?? '' });
    });
    s.on('error', () => resolve(handles));
    s.on('end', () => resolve(handles));
  });
}
