import { spawnSync } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { MessageStore } from '../../src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..', '..');
const cli = path.join(repo, 'dist', 'src', 'cli', 'main.js');
const fixtureName = 'rocketmq-4x-commitlog-00000000000000000000.bin';
const fixture = [
  path.join(repo, '..', 'shared', 'fixtures', fixtureName),
  path.join(repo, '..', '..', 'shared', 'fixtures', fixtureName),
].find((p) => existsSync(p))!;

function run(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
}

function fixtureStore(t: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'tidemq-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'commitlog'));
  copyFileSync(fixture, path.join(dir, 'commitlog', '00000000000000000000'));
  return dir;
}

t.test('cli verify: a sound RocketMQ segment exits 0, a flipped body byte exits 1', async (t) => {
  const dir = fixtureStore(t);
  const ok = run('verify', dir);
  t.equal(ok.status, 0, ok.stdout + ok.stderr);
  t.match(ok.stdout, /47 records/);
  const fd = openSync(path.join(dir, 'commitlog', '00000000000000000000'), 'r+');
  writeSync(fd, Buffer.from([0x58]), 0, 1, 100); // inside the first record's body
  closeSync(fd);
  const bad = run('verify', dir, '--json');
  t.equal(bad.status, 1);
  const report = JSON.parse(bad.stdout) as { problems: string[]; records: number };
  t.equal(report.records, 0);
  t.match(report.problems[0], /crc damage at position 0/);
});

t.test('cli rebuild + inspect: queues, offsets and keys of a RocketMQ segment', async (t) => {
  const dir = fixtureStore(t);
  const rebuilt = run('rebuild', dir);
  t.equal(rebuilt.status, 0, rebuilt.stderr);
  const overview = JSON.parse(run('inspect', dir).stdout) as {
    queues: { topic: string; queueId: number; maxOffset: number; lag: number }[];
    indexFiles: { entries: number }[];
  };
  t.same(overview.queues, [{ topic: 'abc', queueId: 0, minOffset: 0, maxOffset: 47, lag: 0 }]);
  t.equal(overview.indexFiles[0]?.entries, 47);
  const listed = JSON.parse(run('inspect', dir, '--topic', 'abc', '--queue', '0', '--from', '45').stdout) as {
    queueOffset: number;
  }[];
  t.same(
    listed.map((m) => m.queueOffset),
    [45, 46],
  );
  const byKey = JSON.parse(run('inspect', dir, '--topic', 'abc', '--key', '1632821159416').stdout) as {
    queueOffset: number;
  }[];
  t.same(
    byKey.map((m) => m.queueOffset),
    [46],
  );
  const verify = run('verify', dir);
  t.equal(verify.status, 0, verify.stdout);
  t.match(verify.stdout, /1 consume queues, 47 entries checked/);
});

t.test('cli verify: a consume queue entry that disagrees with the commit log is reported', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tidemq-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = await MessageStore.open(dir, { segmentBytes: 1 << 20, cqEntriesPerFile: 4096 });
  for (let i = 0; i < 10; i++) store.append({ topic: 'cq', body: `m${i}`, tags: 'x' });
  await store.close();
  t.equal(run('verify', dir).status, 0);
  const cqFile = path.join(dir, 'consumequeue', 'cq', '0', '00000000000000000000');
  const fd = openSync(cqFile, 'r+');
  writeSync(fd, Buffer.from([0, 0, 0, 1]), 0, 4, 3 * 20 + 16); // tags code of entry 3
  closeSync(fd);
  const bad = run('verify', dir);
  t.equal(bad.status, 1);
  t.match(bad.stdout, /consume queue cq\/0 entry 3: tags code/);
});

t.test('cli: unknown store directory is a clear error with exit code 2', async (t) => {
  const r = run('inspect', path.join(tmpdir(), 'no-such-tidemq-store'));
  t.equal(r.status, 2);
  t.match(r.stderr, /not a store/);
});
