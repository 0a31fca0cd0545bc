// TLS (`--tls-cert/--tls-key`): a CA and a server certificate for 127.0.0.1 are made with the
// openssl CLI at test time; the official client (sslEnabled) trusts the CA through
// NODE_EXTRA_CA_CERTS, which Node reads only at start, so the client runs in a child process.
// grpc-js uses GRPC_DEFAULT_SSL_ROOTS_FILE_PATH instead of Node's CA store when that is set, so
// the child runs without it.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Producer } from 'rocketmq-client-nodejs';
import t from 'tap';
import { TidemqServer } from '../../src/server/server.js';
import { readTlsFiles } from '../../src/server/tls.js';
import { SMALL_STORE, tempDir } from '../helpers/broker-env.js';
import { runChild } from '../helpers/child.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const clientScript = path.join(here, 'tls-client-child.js');
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

/** A throw-away CA and a server certificate it signed for 127.0.0.1 and localhost. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const f = (name: string) => path.join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=tidemq test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  openssl('req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost');
  writeFileSync(
    f('ext.cnf'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
  );
  openssl(
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('server.pem'),
    '-days',
    '2',
    '-extfile',
    f('ext.cnf'),
  );
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') };
}

/** The environment of a client child: Node's own CA store, plus `extraCa` if given. */
function clientEnv(extraCa: string | undefined): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.GRPC_DEFAULT_SSL_ROOTS_FILE_PATH;
  delete env.NODE_EXTRA_CA_CERTS;
  if (extraCa !== undefined) env.NODE_EXTRA_CA_CERTS = extraCa;
  return env;
}

function lastJson(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as Record<string, unknown>;
}

t.test('tls: the official client over TLS; plaintext and untrusted clients cannot talk to it', async (t) => {
  const certs = makeCertificates(tempDir(t));
  const server = await TidemqServer.start({
    dir: tempDir(t),
    host: '127.0.0.1',
    port: 0,
    broker: { store: SMALL_STORE },
    tls: readTlsFiles(certs.cert, certs.key),
  });
  t.teardown(() => server.close());
  const endpoints = `127.0.0.1:${server.port}`;

  const trusted = await runChild(clientScript, [endpoints, 'round-trip'], {
    env: clientEnv(certs.ca),
    timeoutMs: 40_000,
  });
  const r = lastJson(trusted.stdout);
  t.equal(r.ok, true, `the TLS client works (${trusted.stdout.trim()} ${trusted.stderr.trim()})`);
  t.equal(r.received, r.sent, 'sent and received the same message over TLS');
  t.equal(r.body, 'over TLS');

  const untrusted = await runChild(clientScript, [endpoints, 'send'], {
    env: clientEnv(undefined),
    timeoutMs: 40_000,
  });
  t.match(
    lastJson(untrusted.stdout),
    { ok: false, message: /certificate/ },
    'without the CA the certificate is not trusted',
  );

  const plaintext = new Producer({ endpoints, namespace: '', requestTimeout: 2000, logger: quiet });
  await plaintext.startup();
  await t.rejects(
    plaintext.send({ topic: 'secure', body: Buffer.from('x') }),
    { message: /UNAVAILABLE|DEADLINE|Failed/ },
    'a plaintext client gets no answer',
  );
  await plaintext.shutdown().catch(() => {});
  t.equal(server.broker.getTopic('secure')?.name, 'secure', 'the TLS client created the topic');
});

t.test('tls: a key that does not belong to the certificate is refused at start', async (t) => {
  const certs = makeCertificates(tempDir(t));
  const caKey = path.join(path.dirname(certs.ca), 'ca.key');
  await t.rejects(TidemqServer.start({ dir: tempDir(t), port: 0, tls: readTlsFiles(certs.cert, caKey) }), {
    code: 'INVALID_TLS',
    message: /ca\.key: the private key does not belong to the certificate/,
  });
  await t.rejects(
    TidemqServer.start({
      dir: tempDir(t),
      port: 0,
      tls: { cert: readFileSync(certs.key), key: readFileSync(certs.key) },
    }),
    { code: 'INVALID_TLS', message: /ServerOptions\.tls\.cert: not a PEM X\.509 certificate/ },
  );
  t.throws(() => readTlsFiles(path.join(path.dirname(certs.ca), 'nope.pem'), certs.key), {
    code: 'INVALID_TLS',
    message: /nope\.pem: cannot read the TLS certificate/,
  });
});
