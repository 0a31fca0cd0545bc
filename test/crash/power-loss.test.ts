/**
 * Power loss, simulated: a child does sync puts and is SIGKILLed; then everything the disk was
 * not obliged to keep is destroyed — every commit log byte after the end of the last put that
 * resolved is overwritten (zeros, or a torn page of garbage), as if the page cache never reached
 * the disk. Consume queues and the index are left as they were, so they now point past the log.
 * On reopen every resolved put must be there, the log must scan cleanly, and each queue must
 * read back exactly the log's records of that queue.
 */
import {
  closeSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { MessageStore } from '../../src/index.js';
import { startChild } from '../helpers/child.js';
import { compiledTest, tempDir } from '../helpers/fs.js';
import { CRASH_QUEUES, CRASH_TOPIC, parseCrashBody } from '../helpers/messages.js';
import { seededRng, soak } from '../helpers/rng.js';

const SEGMENT_BYTES = 256 * 1024;

function checkpointFlushedOffset(dir: string): number {
  const page = readFileSync(path.join(dir, 'checkpoint'));
  if (page.readUInt32BE(64) !== 0x54444d51) return 0;
  return Number(page.readBigInt64BE(72));
}

function recordSizeAt(dir: string, offset: number): number {
  const from = offset - (offset % SEGMENT_BYTES);
  const fd = openSync(path.join(dir, 'commitlog', String(from).padStart(20, '0')), 'r');
  const b = Buffer.alloc(4);
  readSync(fd, b, 0, 4, offset - from);
  closeSync(fd);
  return b.readInt32BE(0);
}
const PUTTER = compiledTest('crash/putter-child');

t.test('power loss: bytes after the last resolved sync put are lost; nothing acknowledged is', async (t) => {
  const rng = seededRng(t, 'power loss');
  const dir = tempDir(t);
  const rounds = soak ? 20 : 3;
  const acked = new Map<string, number>(); // `${round}:${seq}` -> physicalOffset
  for (let round = 0; round < rounds; round++) {
    const config = {
      dir,
      mode: 'sync',
      segmentBytes: SEGMENT_BYTES,
      concurrency: 8,
      round,
      maxFillerBytes: 3000,
      maxPuts: 20_000,
    };
    const child = startChild(PUTTER, [JSON.stringify(config)]);
    await child.waitForLine((line) => line === 'ready' || line.startsWith('error'));
    await sleep(rng.range(50, 600));
    child.child.kill('SIGKILL');
    await child.exited;
    // The last acknowledged byte, read from the files as the killed child left them (opening the
    // store here would flush and checkpoint what a power cut never lets reach the disk).
    let lastEnd = 0;
    for (const line of child.lines) {
      const m = /^ok (\d+) (\d+)/.exec(line);
      if (!m) continue;
      const offset = Number(m[2]);
      acked.set(`${round}:${m[1]}`, offset);
      const end = offset + recordSizeAt(dir, offset);
      if (end > lastEnd) lastEnd = end;
    }
    // What the disk holds for sure: everything the last completed flush covered. The checkpoint
    // records that offset right after each flush (the page as the killed process left it).
    const flushed = checkpointFlushedOffset(dir);
    t.ok(
      flushed >= lastEnd,
      `round ${round}: flushed offset ${flushed} covers every acknowledged put (${lastEnd})`,
    );
    const cut = Math.max(lastEnd, flushed);
    // Destroy what a power cut could: everything after it.
    const logDir = path.join(dir, 'commitlog');
    const torn = rng.bool(0.5);
    let destroyed = 0;
    for (const name of readdirSync(logDir).filter((n) => /^\d{20}$/.test(n))) {
      const from = Number(name);
      const size = statSync(path.join(logDir, name)).size;
      const start = Math.max(0, cut - from);
      if (start >= size) continue;
      const fd = openSync(path.join(logDir, name), 'r+');
      const junk = Buffer.alloc(size - start);
      if (torn) for (let i = 0; i < junk.length; i++) junk[i] = rng.int(256);
      writeSync(fd, junk, 0, junk.length, start);
      closeSync(fd);
      destroyed += junk.length;
    }
    t.comment(
      `round ${round}: last acknowledged byte ${lastEnd}, flushed to ${flushed}; ${destroyed} bytes after it ${torn ? 'garbled' : 'zeroed'}`,
    );
    // An older checkpoint page may be all the disk kept: sometimes lose it entirely.
    if (rng.bool(0.3)) rmSync(path.join(dir, 'checkpoint'));
  }
  const store = await MessageStore.open(dir, { segmentBytes: SEGMENT_BYTES });
  t.teardown(() => store.close());
  const log = [...store.scan()];
  const at = new Map(log.map((m) => [m.physicalOffset, m]));
  const missing = [...acked].filter(([, offset]) => !at.has(offset)).map(([k]) => k);
  t.same(missing.slice(0, 10), [], `every resolved put survives (${acked.size} of them)`);
  const seen = new Set<string>();
  const dup: string[] = [];
  for (const m of log) {
    const id = parseCrashBody(m.body);
    if (!id) continue;
    const k = `${id.round}:${id.seq}`;
    if (seen.has(k)) dup.push(k);
    seen.add(k);
  }
  t.same(dup, [], 'no record twice');
  await store.waitForDispatch();
  for (let q = 0; q < CRASH_QUEUES; q++) {
    const truth = log.filter((m) => m.topic === CRASH_TOPIC && m.queueId === q).map((m) => m.physicalOffset);
    const read = store.read(CRASH_TOPIC, q, 0, 1_000_000).map((m) => m.physicalOffset);
    t.same(read, truth, `queue ${q} reads exactly the log's records (${truth.length})`);
    t.equal(store.maxOffset(CRASH_TOPIC, q), truth.length);
  }
});
