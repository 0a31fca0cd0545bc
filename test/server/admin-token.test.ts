// The admin API with an admin token (`--admin-token` / TIDEMQ_ADMIN_TOKEN): every /admin request
// needs `Authorization: Bearer <token>`; with it, changes are accepted from other hosts too;
// /metrics stays open. `tidemq admin --server --token` (or TIDEMQ_ADMIN_TOKEN) sends it.
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { createLogger } from '../../src/server/logger.js';
import { TidemqServer } from '../../src/server/server.js';
import { SMALL_STORE } from '../helpers/broker-env.js';
import { runChild } from '../helpers/child.js';
import { tempDir } from '../helpers/native-env.js';

const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
const token = 'test-admin-token-0123456789';
/** The store settings of the test's servers, for the CLI children too. */
const STORE_ENV = { TIDEMQ_SEGMENT_BYTES: String(SMALL_STORE.segmentBytes), TIDEMQ_PREFAULT: 'false' };

function start(dir: string, host: string): Promise<TidemqServer> {
  return TidemqServer.start({
    dir,
    host,
    port: 0,
    metricsPort: 0,
    adminToken: token,
    broker: { store: SMALL_STORE },
    logger: createLogger('silent'),
  });
}

/** A non-loopback IPv4 address of this machine, if it has one. */
function externalAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

t.test('admin token: required on /admin, opens changes to other hosts, /metrics stays open', async (t) => {
  const dir = tempDir(t, 'tidemq-admin-token-');
  const server = await start(dir, '0.0.0.0');
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${server.metricsPort}`;
  const call = (url: string, init: RequestInit = {}) =>
    fetch(url, init).then(async (r) => ({ status: r.status, body: await r.text() }));
  const bearer = (tok: string) => ({ authorization: `Bearer ${tok}` });

  t.equal((await call(`${base}/metrics`)).status, 200, '/metrics needs no token');
  const none = await call(`${base}/admin/topics`);
  t.equal(none.status, 401, 'a read without the token: 401');
  t.match(none.body, /"code":"UNAUTHORIZED".*Authorization: Bearer/, 'the answer says what to send');
  t.equal(
    (await call(`${base}/admin/topics`, { headers: bearer(`${token}x`) })).status,
    401,
    'a wrong token: 401',
  );
  t.equal((await call(`${base}/admin/topics`, { headers: bearer(token) })).status, 200, 'the token: 200');
  const create = (host: string, headers: Record<string, string>) =>
    call(`http://${host}:${server.metricsPort}/admin/topics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ name: `t${Math.random().toString(36).slice(2, 8)}`, queues: 1 }),
    });
  t.equal((await create('127.0.0.1', {})).status, 401, 'a change without the token: 401, even from loopback');
  t.equal(
    (await create('127.0.0.1', { ...bearer(token), origin: 'http://evil.example' })).status,
    403,
    'never from a web page',
  );
  t.equal((await create('127.0.0.1', bearer(token))).status, 200, 'a change with the token');
  const external = externalAddress();
  if (external === undefined)
    t.comment('no non-loopback address on this machine: the remote-host case is not run');
  else {
    t.equal(
      (await create(external, bearer(token))).status,
      200,
      `with the token, a change from ${external} is accepted`,
    );
  }
});

t.test('admin token: tidemq admin --server sends --token or TIDEMQ_ADMIN_TOKEN', async (t) => {
  const dir = tempDir(t, 'tidemq-admin-token-');
  const server = await start(dir, '127.0.0.1');
  t.teardown(() => server.close());
  const url = `http://127.0.0.1:${server.metricsPort}`;
  // (not spawnSync: the server runs on this event loop)
  const admin = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runChild(cli, ['admin', ...args], {
      env: { ...process.env, ...STORE_ENV, TIDEMQ_ADMIN_TOKEN: '', ...env },
      timeoutMs: 60_000,
    });
  const without = await admin(['--server', url, 'topics']);
  t.equal(without.code, 2, 'no token: exit 2');
  t.match(without.stderr, /UNAUTHORIZED: .*--token/, 'and says how to give one');
  const flag = await admin(['--server', url, '--token', token, 'create-topic', 'tok-a', '--queues', '2']);
  t.equal(flag.code, 0, `--token: ${flag.stderr}`);
  t.match(flag.stdout, /topic tok-a: 2 queues/);
  const env = await admin(['--server', url, 'topics'], { TIDEMQ_ADMIN_TOKEN: token });
  t.equal(env.code, 0, `TIDEMQ_ADMIN_TOKEN: ${env.stderr}`);
  t.match(env.stdout, /tok-a\s+NORMAL\s+2/);
});
