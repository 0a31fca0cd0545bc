// The README's copy-paste client example, run as written (only the port changed) against a
// `tidemq serve` in this process: what users paste first must work.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { TidemqServer } from '../../src/server/server.js';
import { SMALL_STORE, tempDir } from '../helpers/broker-env.js';
import { runChild } from '../helpers/child.js';
import { repoRoot } from '../helpers/fs.js';

/** The first ```js block after the README's "Connect the official client" line. */
function readmeExample(): string {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const at = readme.indexOf('Connect the official client');
  const block = /```js\n([\s\S]*?)```/.exec(readme.slice(at));
  if (at < 0 || !block) throw new Error('README has no client example after "Connect the official client"');
  return block[1]!;
}

t.test('README: the official-client example sends, receives and acks against tidemq serve', async (t) => {
  const server = await TidemqServer.start({
    dir: tempDir(t),
    host: '127.0.0.1',
    port: 0,
    broker: { store: SMALL_STORE },
  });
  t.teardown(() => server.close());
  const source = readmeExample();
  t.match(source, /'127\.0\.0\.1:8081'/, 'the example connects to the default port');
  // Inside the repository, so `rocketmq-client-nodejs` resolves from its node_modules.
  const script = path.join(repoRoot, 'dist', `readme-example-${process.pid}.mjs`);
  writeFileSync(script, source.replace("'127.0.0.1:8081'", `'127.0.0.1:${server.port}'`));
  t.teardown(() => rmSync(script, { force: true }));
  const result = await runChild(script, [], { timeoutMs: 60_000 });
  t.equal(result.code, 0, `the example exits 0 (stderr: ${result.stderr.slice(0, 500)})`);
  const lines = result.stdout.trim().split('\n');
  const id = lines[0] ?? '';
  t.match(id, /^01[0-9A-F]{32}$/, 'it prints the message id of the send');
  t.ok(
    lines.some((l) => l.startsWith(`${id} hi a`) && l.includes('k1')),
    `it receives the message back with body, tag and key (stdout: ${result.stdout})`,
  );
});
