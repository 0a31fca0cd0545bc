// `tidemq serve` as a child process: env vars configure it, the official client talks to it,
// SIGTERM shuts it down cleanly (exit code 0, store closed).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Producer } from 'rocketmq-client-nodejs';
import t from 'tap';
import { Broker } from '../../src/broker/broker.js';
import { tempDir } from '../helpers/broker-env.js';
import { startChild } from '../helpers/child.js';

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
