// Auth (`--acl`): MQv2-HMAC-SHA1 signatures and per-account topic/group permissions, checked with
// the official client over loopback; plus the ACL file's validation.
import { createHmac } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { Producer, SimpleConsumer } from 'rocketmq-client-nodejs';
import t from 'tap';
import { Acl } from '../../src/server/acl.js';
import { Authorizer, parseAuthorization } from '../../src/server/auth.js';
import { messagingServiceDefinition } from '../../src/server/proto.js';
import { TidemqServer } from '../../src/server/server.js';
import { SMALL_STORE, tempDir } from '../helpers/broker-env.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

const ACL = {
  accounts: [
    {
      accessKey: 'ak',
      secretKey: 'sk',
      publish: ['orders', 'logs-*'],
      subscribe: ['orders'],
      groups: ['billing'],
    },
    { accessKey: 'pub-only', secretKey: 'sk2', publish: ['orders'] },
    { accessKey: 'root', secretKey: 'root-secret', admin: true },
  ],
};

/** The first error in err's cause chain (startup() wraps what the server said twice). */
function rootCause(err: unknown): unknown {
  let e = err;
  while (e instanceof Error && e.cause !== undefined) e = e.cause;
  return e;
}

t.test('auth: signature header parsing and the documented HMAC vector', async (t) => {
  const sig = createHmac('sha1', 'mysk').update('20261121T162116Z').digest('hex').toUpperCase();
  t.equal(sig, '756672366572EE62785687D65D215D256FBCE535', 'HMAC-SHA1 over x-mq-date-time, upper-case hex');
  t.same(
    parseAuthorization(`MQv2-HMAC-SHA1 Credential=ak/x, SignedHeaders=x-mq-date-time, Signature=${sig}`),
    {
      accessKey: 'ak',
      signature: sig,
    },
  );
  t.equal(parseAuthorization('Basic abc'), undefined, 'another scheme');
  t.equal(parseAuthorization('MQv2-HMAC-SHA1 Credential=ak'), undefined, 'no signature');

  const auth = new Authorizer(Acl.from({ accounts: [{ accessKey: 'ak', secretKey: 'mysk' }] }, 'test'));
  const md = (authorization: string | undefined, date = '20261121T162116Z'): { metadata: grpc.Metadata } => {
    const m = new grpc.Metadata();
    if (authorization !== undefined) m.set('authorization', authorization);
    m.set('x-mq-date-time', date);
    return { metadata: m };
  };
  const header = (s: string) => `MQv2-HMAC-SHA1 Credential=ak, SignedHeaders=x-mq-date-time, Signature=${s}`;
  t.equal(auth.authenticate(md(header(sig)).metadata).accessKey, 'ak', 'the right signature authenticates');
  t.equal(
    auth.authenticate(md(header(sig.toLowerCase())).metadata).accessKey,
    'ak',
    'hex case does not matter',
  );
  for (const [what, call] of [
    ['no header', md(undefined)],
    ['other date', md(header(sig), '20261121T162117Z')],
    ['short signature', md(header(sig.slice(0, 38)))],
    ['not hex', md(header(`${sig.slice(0, 38)}ZZ`))],
    ['unknown key', md(header(sig).replace('Credential=ak', 'Credential=nobody'))],
  ] as const) {
    t.throws(() => auth.authorize(call, 'QueryRoute', { topic: { name: 'x' } }), { code: 40100 }, what);
  }
});

t.test('auth: ACL file validation names the key and the problem', async (t) => {
  const bad = (value: unknown, message: RegExp, what: string) =>
    t.throws(() => Acl.from(value, 'acl.json'), { code: 'INVALID_ACL', message }, what);
  bad([], /acl\.json: \(top level\)/, 'not an object');
  bad({ accounts: [] }, /acl\.json: accounts: expected a non-empty array/, 'no accounts');
  bad({ accounts: [{ accessKey: 'a' }] }, /accounts\[0\]\.secretKey/, 'missing secret');
  bad(
    { accounts: [{ accessKey: 'a', secretKey: 's', subscibe: ['x'] }] },
    /accounts\[0\]\.subscibe: unknown key/,
    'typo',
  );
  bad(
    { accounts: [{ accessKey: 'a', secretKey: 's', publish: 'x' }] },
    /accounts\[0\]\.publish: expected an array/,
    'not a list',
  );
  bad(
    { accounts: [{ accessKey: 'a', secretKey: 's', groups: ['a b'] }] },
    /accounts\[0\]\.groups\[0\]/,
    'bad pattern',
  );
  bad(
    {
      accounts: [
        { accessKey: 'a', secretKey: 's' },
        { accessKey: 'a', secretKey: 't' },
      ],
    },
    /accounts\[1\]\.accessKey: a appears twice/,
    'duplicate key',
  );
  bad(
    { accounts: [{ accessKey: 'a', secretKey: 's', admin: 'yes' }] },
    /accounts\[0\]\.admin/,
    'admin not boolean',
  );
  const acl = Acl.from(ACL, 'acl.json');
  const ak = acl.account('ak')!;
  t.ok(ak.may('publish', 'logs-app1'), 'wildcard matches');
  t.notOk(ak.may('publish', 'logs'), 'the wildcard needs the prefix');
  t.notOk(ak.may('subscribe', 'logs-app1'), 'publish does not grant subscribe');
  t.ok(acl.account('root')!.may('groups', 'anything'), 'admin may do everything');
});

t.test('auth: the official client with valid, wrong and missing credentials', async (t) => {
  const server = await TidemqServer.start({
    dir: tempDir(t),
    host: '127.0.0.1',
    port: 0,
    broker: { store: SMALL_STORE },
    acl: ACL,
  });
  const endpoints = `127.0.0.1:${server.port}`;
  const clients: { shutdown(): Promise<unknown> }[] = [];
  t.teardown(async () => {
    for (const c of clients) await c.shutdown().catch(() => {});
    await server.close();
  });
  const producer = async (accessKey: string | undefined, accessSecret = ''): Promise<Producer> => {
    const p = new Producer({
      endpoints,
      namespace: '',
      logger: quiet,
      ...(accessKey !== undefined && { sessionCredentials: { accessKey, accessSecret } }),
    });
    await p.startup();
    clients.push(p);
    return p;
  };
  const consumer = (
    accessKey: string,
    accessSecret: string,
    group: string,
    topic: string,
  ): SimpleConsumer => {
    const c = new SimpleConsumer({
      endpoints,
      namespace: '',
      consumerGroup: group,
      subscriptions: new Map([[topic, '*']]),
      awaitDuration: 1000,
      logger: quiet,
      sessionCredentials: { accessKey, accessSecret },
    });
    clients.push(c);
    return c;
  };

  await t.test('valid credentials: publish, subscribe, ack', async (t) => {
    const p = await producer('ak', 'sk');
    const receipt = await p.send({ topic: 'orders', body: Buffer.from('paid') });
    await p.send({ topic: 'logs-web', body: Buffer.from('log line') });
    const c = consumer('ak', 'sk', 'billing', 'orders');
    await c.startup();
    let got: { messageId: string }[] = [];
    for (let i = 0; i < 10 && got.length === 0; i++) got = (await c.receive(16, 10_000)) as never;
    t.equal(got[0]?.messageId, receipt.messageId, 'the message arrives');
    await c.ack(got[0] as never);
  });

  await t.test('wrong secret: send and consumer startup are refused with 40100', async (t) => {
    const p = await producer('ak', 'not-the-secret');
    await t.rejects(p.send({ topic: 'orders', body: Buffer.from('x') }), {
      name: 'UnauthorizedException',
      code: 40100,
    });
    const c = consumer('ak', 'not-the-secret', 'billing', 'orders');
    const err = await c.startup().then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err, 'startup rejects');
    t.match(rootCause(err), { name: 'UnauthorizedException', code: 40100 }, 'because of 40100');
  });

  await t.test('missing credentials and an unknown access key are unauthorized', async (t) => {
    const anonymous = await producer(undefined);
    await t.rejects(anonymous.send({ topic: 'orders', body: Buffer.from('x') }), {
      name: 'UnauthorizedException',
    });
    const stranger = await producer('nobody', 'sk');
    await t.rejects(stranger.send({ topic: 'orders', body: Buffer.from('x') }), {
      name: 'UnauthorizedException',
    });
  });

  await t.test('publishing to a topic not in "publish" is forbidden', async (t) => {
    const p = await producer('ak', 'sk');
    await t.rejects(p.send({ topic: 'payments', body: Buffer.from('x') }), {
      name: 'ForbiddenException',
      code: 40300,
    });
    t.equal(server.broker.getTopic('payments'), undefined, 'the refused request created no topic');
  });

  await t.test('a group or subscription not permitted: consumer startup rejects with 40300', async (t) => {
    // 'orders' is routable for both accounts, so the refusal comes in the Telemetry handshake.
    const wrongGroup = consumer('ak', 'sk', 'analytics', 'orders');
    const e1 = await wrongGroup.startup().then(
      () => undefined,
      (e: unknown) => e,
    );
    t.match(rootCause(e1), { name: 'ForbiddenException', code: 40300 }, 'group not in "groups"');
    const pubOnly = consumer('pub-only', 'sk2', 'billing', 'orders');
    const e2 = await pubOnly.startup().then(
      () => undefined,
      (e: unknown) => e,
    );
    t.match(rootCause(e2), { name: 'ForbiddenException', code: 40300 }, 'topic not in "subscribe"');
  });

  await t.test('Telemetry: a refused Settings gets a status-only reply', async (t) => {
    const Client = grpc.makeGenericClientConstructor(messagingServiceDefinition(), 'MessagingService');
    const client = new Client(endpoints, grpc.credentials.createInsecure()) as unknown as {
      Telemetry(
        md: grpc.Metadata,
      ): grpc.ClientDuplexStream<object, { status?: { code: number }; settings?: object }>;
      close(): void;
    };
    const reply = async (metadata: grpc.Metadata) => {
      const stream = client.Telemetry(metadata);
      const first = new Promise<{ status?: { code: number }; settings?: object }>((resolve, reject) => {
        stream.once('data', resolve);
        stream.once('error', reject);
      });
      stream.write({ settings: { clientType: 1, publishing: { topics: [{ name: 'orders' }] } } });
      const r = await first;
      stream.cancel();
      stream.on('error', () => {});
      return r;
    };
    const md = new grpc.Metadata();
    md.set('x-mq-client-id', 'raw@1');
    md.set('x-mq-date-time', '20261121T162116Z');
    md.set('authorization', 'MQv2-HMAC-SHA1 Credential=ak, SignedHeaders=x-mq-date-time, Signature=00');
    const refused = await reply(md);
    t.equal(refused.status?.code, 40100, 'UNAUTHORIZED');
    t.equal(refused.settings, undefined, 'and no settings');
    t.notOk(
      server.sessions.list().some((c) => c.clientId === 'raw@1'),
      'an unauthenticated stream holds no session (it could take check-backs of that client id)',
    );
    const sig = createHmac('sha1', 'sk').update('20261121T162116Z').digest('hex').toUpperCase();
    md.set('authorization', `MQv2-HMAC-SHA1 Credential=ak, SignedHeaders=x-mq-date-time, Signature=${sig}`);
    const accepted = await reply(md);
    t.equal(accepted.status?.code, 20000, 'the signed one is answered');
    t.ok(accepted.settings, 'with settings');
    t.ok(
      server.sessions.list().some((c) => c.clientId === 'raw@1'),
      'and joins the client session',
    );
    client.close();
  });

  await t.test('an admin account may do everything', async (t) => {
    const p = await producer('root', 'root-secret');
    const receipt = await p.send({ topic: 'payments', body: Buffer.from('admin') });
    const c = consumer('root', 'root-secret', 'any-group', 'payments');
    await c.startup();
    let got: { messageId: string }[] = [];
    for (let i = 0; i < 10 && got.length === 0; i++) got = (await c.receive(16, 10_000)) as never;
    t.equal(got[0]?.messageId, receipt.messageId);
    await c.ack(got[0] as never);
  });
});
