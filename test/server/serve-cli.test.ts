// `tidemq serve` as a child process: env vars configure it, the official client talks to it,
// SIGTERM shuts it down cleanly (exit code 0, store closed).
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Producer } from 'rocketmq-client-nodejs';
import t from 'tap';
import { Broker } from '../../src/broker/broker.js';
import { resolveServeOptions } from '../../src/cli/serve.js';
import { tempDir } from '../helpers/broker-env.js';
import { runChild, startChild } from '../helpers/child.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, '..', '..', 'src', 'cli', 'main.js');
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

t.test('tidemq serve: TIDEMQ_DIR/TIDEMQ_PORT, a send, graceful SIGTERM', async (t) => {
  const dir = tempDir(t);
  const child = startChild(cli, ['serve', '--host', '127.0.0.1'], {
    env: { ...process.env, TIDEMQ_DIR: dir, TIDEMQ_PORT: '0' },
  });
  t.teardown(() => {
    if (child.child.exitCode === null) child.child.kill('SIGKILL');
  });
  const line = await child.waitForLine((l) => l.includes('serving'), 30_000);
  const port = Number(/:(\d+) /.exec(line)?.[1]);
  t.ok(port > 0, `listening on ${port}`);

  const producer = new Producer({ endpoints: `127.0.0.1:${port}`, namespace: '', logger: quiet });
  await producer.startup();
  const receipt = await producer.send({ topic: 'cli-topic', body: Buffer.from('hello') });
  t.match(receipt.messageId, /^01/);
  await producer.shutdown();

  child.child.kill('SIGTERM');
  const result = await child.exited;
  t.equal(result.code, 0, `exit 0 (stderr: ${result.stderr})`);
  t.match(result.stdout, /stopped/);

  const broker = await Broker.open(dir);
  t.same(broker.getTopic('cli-topic')?.type, 'MIXED', 'the topic was auto-created and persisted');
  await broker.close();
});

t.test('tidemq serve: flags win over env vars; unset and empty variables take the defaults', async (t) => {
  const env = {
    TIDEMQ_DIR: '/from/env',
    TIDEMQ_PORT: '9000',
    TIDEMQ_HOST: '',
    TIDEMQ_ACL: 'acl.json',
    TIDEMQ_AUTO_CREATE: '0',
  };
  t.same(resolveServeOptions({ port: '7000', autoCreate: true }, env), {
    dir: '/from/env',
    port: 7000,
    host: '0.0.0.0',
    autoCreate: true,
    acl: 'acl.json',
    logLevel: 'info',
  });
  t.same(resolveServeOptions({}, {}), {
    dir: './tidemq-data',
    port: 8081,
    host: '0.0.0.0',
    autoCreate: true,
    logLevel: 'info',
  });
  const ops = resolveServeOptions(
    { logLevel: 'debug' },
    { TIDEMQ_METRICS_PORT: '0', TIDEMQ_LOG_LEVEL: 'warn' },
  );
  t.equal(ops.metricsPort, 0, 'TIDEMQ_METRICS_PORT=0: any free port');
  t.equal(ops.logLevel, 'debug', '--log-level wins over TIDEMQ_LOG_LEVEL');
  t.equal(resolveServeOptions({}, { TIDEMQ_LOG_LEVEL: 'warn' }).logLevel, 'warn');
  t.throws(() => resolveServeOptions({}, { TIDEMQ_METRICS_PORT: 'x' }), {
    code: 'INVALID_CONFIG',
    message: /TIDEMQ_METRICS_PORT="x"/,
  });
  t.throws(() => resolveServeOptions({ logLevel: 'loud' }, {}), {
    code: 'INVALID_CONFIG',
    message: /--log-level="loud" is not valid: expected one of fatal, error/,
  });
  t.equal(resolveServeOptions({}, { TIDEMQ_AUTO_CREATE: 'false' }).autoCreate, false);
  t.throws(() => resolveServeOptions({}, { TIDEMQ_PORT: '80a' }), {
    code: 'INVALID_CONFIG',
    message: /TIDEMQ_PORT="80a"/,
  });
  t.throws(() => resolveServeOptions({ port: '70000' }, {}), {
    code: 'INVALID_CONFIG',
    message: /--port="70000"/,
  });
  t.throws(() => resolveServeOptions({}, { TIDEMQ_AUTO_CREATE: 'yes' }), {
    code: 'INVALID_CONFIG',
    message: /TIDEMQ_AUTO_CREATE="yes" is not valid: expected 1 or 0/,
  });
  t.throws(() => resolveServeOptions({ tlsCert: 'c.pem' }, {}), {
    code: 'INVALID_CONFIG',
    message: /--tls-cert needs --tls-key \(or TIDEMQ_TLS_KEY\)/,
  });
  const secret = 'a-long-enough-admin-secret';
  t.equal(
    resolveServeOptions({ metricsPort: '0' }, { TIDEMQ_ADMIN_TOKEN: secret }).adminToken,
    secret,
    'TIDEMQ_ADMIN_TOKEN',
  );
  t.throws(() => resolveServeOptions({ metricsPort: '0', adminToken: 'short' }, {}), {
    code: 'INVALID_CONFIG',
    message: /--admin-token="…" is not valid: expected a secret of at least 16 characters/,
  });
  t.notMatch(
    (() => {
      try {
        resolveServeOptions({ metricsPort: '0', adminToken: 'short' }, {});
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    })(),
    /short/,
    'the rejected token is not echoed',
  );
  t.throws(() => resolveServeOptions({}, { TIDEMQ_ADMIN_TOKEN: secret }), {
    code: 'INVALID_CONFIG',
    message: /TIDEMQ_ADMIN_TOKEN needs --metrics-port/,
  });
});

t.test('tidemq serve: TIDEMQ_ACL, TIDEMQ_CONFIG and TIDEMQ_AUTO_CREATE=0 through the CLI', async (t) => {
  const dir = tempDir(t);
  const files = tempDir(t);
  const aclFile = path.join(files, 'acl.json');
  const configFile = path.join(files, 'config.json');
  writeFileSync(
    aclFile,
    JSON.stringify({ accounts: [{ accessKey: 'ak', secretKey: 'sk', publish: ['*'] }] }),
  );
  writeFileSync(configFile, JSON.stringify({ topics: { known: { queues: 2, type: 'NORMAL' } } }));
  const child = startChild(cli, ['serve', '--host', '127.0.0.1'], {
    env: {
      ...process.env,
      TIDEMQ_DIR: dir,
      TIDEMQ_PORT: '0',
      TIDEMQ_HOST: 'host.invalid',
      TIDEMQ_ACL: aclFile,
      TIDEMQ_CONFIG: configFile,
      TIDEMQ_AUTO_CREATE: '0',
    },
  });
  t.teardown(() => {
    if (child.child.exitCode === null) child.child.kill('SIGKILL');
  });
  const line = await child.waitForLine((l) => l.includes('serving'), 30_000);
  t.match(line, /on 127\.0\.0\.1:\d+ .*auth on .*auto-create off/, `--host wins over TIDEMQ_HOST: ${line}`);
  const port = Number(/:(\d+) /.exec(line)?.[1]);

  const producer = new Producer({
    endpoints: `127.0.0.1:${port}`,
    namespace: '',
    logger: quiet,
    sessionCredentials: { accessKey: 'ak', accessSecret: 'sk' },
  });
  await producer.startup();
  t.match(
    (await producer.send({ topic: 'known', body: Buffer.from('x') })).messageId,
    /^01/,
    'declared topic',
  );
  await t.rejects(producer.send({ topic: 'unknown', body: Buffer.from('x') }), {
    name: 'NotFoundException',
    code: 40402,
  });
  const anonymous = new Producer({ endpoints: `127.0.0.1:${port}`, namespace: '', logger: quiet });
  await anonymous.startup();
  await t.rejects(anonymous.send({ topic: 'known', body: Buffer.from('x') }), {
    name: 'UnauthorizedException',
  });
  await producer.shutdown();
  await anonymous.shutdown();

  child.child.kill('SIGTERM');
  const result = await child.exited;
  t.equal(result.code, 0, `exit 0 (stderr: ${result.stderr})`);
  const broker = await Broker.open(dir);
  t.same(
    broker.getTopic('known'),
    { name: 'known', queues: 2, type: 'NORMAL' },
    'created from the config file',
  );
  t.equal(broker.getTopic('unknown'), undefined, 'not auto-created');
  await broker.close();
});

t.test(
  'tidemq serve: bad settings stop it at once with a typed error, before the store is touched',
  async (t) => {
    const files = tempDir(t);
    const write = (name: string, text: string): string => {
      const f = path.join(files, name);
      writeFileSync(f, text);
      return f;
    };
    const badJson = write('bad.json', '{ "accounts": [ ');
    const typo = write(
      'typo.json',
      JSON.stringify({ accounts: [{ accessKey: 'a', secretKey: 's', subscibe: [] }] }),
    );
    const badConfig = write('config.json', JSON.stringify({ topics: { orders: { type: 'SOMETIMES' } } }));
    const cases: [string, string[], NodeJS.ProcessEnv, RegExp][] = [
      ['bad TIDEMQ_PORT', [], { TIDEMQ_PORT: 'abc' }, /INVALID_CONFIG: TIDEMQ_PORT="abc"/],
      ['bad TIDEMQ_AUTO_CREATE', [], { TIDEMQ_AUTO_CREATE: '2' }, /INVALID_CONFIG: TIDEMQ_AUTO_CREATE="2"/],
      ['ACL not JSON', ['--acl', badJson], {}, /INVALID_ACL: .*bad\.json: not valid JSON/],
      [
        'ACL typo',
        [],
        { TIDEMQ_ACL: typo },
        /INVALID_ACL: .*typo\.json: accounts\[0\]\.subscibe: unknown key/,
      ],
      ['missing ACL', ['--acl', path.join(files, 'nope.json')], {}, /INVALID_ACL: .*nope\.json: cannot read/],
      ['bad config', ['--config', badConfig], {}, /INVALID_CONFIG: .*config\.json: topics\.orders\.type/],
      ['cert without key', [], { TIDEMQ_TLS_CERT: badJson }, /INVALID_CONFIG: --tls-cert needs --tls-key/],
    ];
    for (const [what, args, env, message] of cases) {
      const dir = path.join(files, 'store');
      const r = await runChild(cli, ['serve', '--dir', dir, '--host', '127.0.0.1', ...args], {
        env: { ...process.env, TIDEMQ_PORT: '0', ...env },
        timeoutMs: 15_000,
      });
      t.equal(r.code, 2, `${what}: exit 2`);
      t.match(r.stderr, message, `${what}: ${r.stderr.trim()}`);
      t.notOk(existsSync(dir), `${what}: no store directory created`);
    }
  },
);
