// The addon's prefault thread: it keeps a writable mapping faulted in a lead ahead of a writer
// position published in a writer slot, skips what lies behind the writer, ends a follow when told
// to stop or when idle, and drops a mapping before it is unmapped (no step may touch it after).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { MapFlags, native } from '../../src/native.js';
import {
  mappedRssKb,
  pageSize,
  skipWithoutReadahead,
  tempDir,
  threadNames,
  until,
} from '../helpers/native-env.js';

const MiB = 1024 * 1024;

t.test('prefault: follows the writer position with a lead, skipping what lies behind it', async (t) => {
  const file = path.join(tempDir(t), 'seg');
  const mapping = native.mapFile(file, 64 * MiB, MapFlags.create);
  const cells = native.prefaultWriter();
  t.ok(cells instanceof Float64Array && cells.length === 2, 'a writer slot is a Float64Array of 2');
  const from = 1_000_000_000; // the mapping's first physical offset
  cells[0] = from;
  native.prefaultFollow(mapping, cells, from, 16 * MiB, MiB, 50);
  t.ok(await until(() => mappedRssKb(file) >= 16 * 1024), 'the lead is faulted in');
  const names = threadNames();
  if (names)
    t.equal(names.filter((n) => n === 'tidemq-prefault').length, 1, 'by one thread, named tidemq-prefault');
  t.ok(await until(() => native.prefaultJobs() === 0), 'the follow ends once idle');
  t.ok(mappedRssKb(file) <= 17 * 1024, `no further than the lead (${mappedRssKb(file)} kB)`);

  // The writer jumps to 32 MiB: the 16 MiB between were "its own" and are skipped.
  cells[0] = from + 32 * MiB;
  native.prefaultFollow(mapping, cells, from, 16 * MiB, MiB, 50);
  t.ok(await until(() => native.prefaultJobs() === 0), 'the second follow ends');
  const kb = mappedRssKb(file);
  t.ok(kb >= 32 * 1024 && kb <= 33 * 1024, `[0, 16) and [32, 48) MiB faulted in, not [16, 32) (${kb} kB)`);
  t.ok(
    new Uint8Array(mapping).every((b) => b === 0),
    'never changes a byte',
  );
});

t.test('prefault: reads in only the range it faults in, not a readahead window past it', async (t) => {
  // A populate's first fault would read ahead over the file's never-written blocks as far as
  // read_ahead_kb (8 MiB here), zero-filling them in one call; each chunk is read in first.
  const dir = tempDir(t);
  if (skipWithoutReadahead(t, dir)) return;
  const mapping = native.mapFile(path.join(dir, 'seg'), 64 * MiB, MapFlags.create);
  await native.prefault(mapping, 0, MiB);
  const resident = native.residentBytes(mapping, 0, 64 * MiB);
  t.ok(resident >= MiB, `the range is in (${resident} B)`);
  t.ok(resident <= MiB + 16 * pageSize(), `and little past it (${resident} B of the 64 MiB file)`);
  // a writer that outruns the prefault still gets readahead (the mapping's advice is left as is)
  new Uint8Array(mapping)[32 * MiB] = 1;
  t.ok(
    native.residentBytes(mapping, 32 * MiB, 32 * MiB) > pageSize(),
    'a write past it reads ahead as before',
  );
});

t.test('prefault: the stop cell ends a follow; unmapping drops one mid-way', async (t) => {
  const dir = tempDir(t);
  const cells = native.prefaultWriter();
  const bigFile = path.join(dir, 'a');
  const big = native.mapFile(bigFile, 256 * MiB, MapFlags.create);
  native.prefaultFollow(big, cells, 0, 256 * MiB, MiB, 10_000);
  t.equal(native.prefaultJobs(), 1, 'following');
  await until(() => mappedRssKb(bigFile) >= 2 * 1024, 2000);
  cells[1] = 1;
  t.ok(await until(() => native.prefaultJobs() === 0, 200), 'the stop cell ends it within a step');
  const stoppedAt = mappedRssKb(bigFile);
  await new Promise((r) => setTimeout(r, 100));
  t.ok(
    stoppedAt < 128 * 1024 && mappedRssKb(bigFile) === stoppedAt,
    `far short of the 256 MiB lead, and no further afterwards (${stoppedAt} kB)`,
  );

  const other = native.prefaultWriter();
  const file = path.join(dir, 'b');
  const mapping = native.mapFile(file, 256 * MiB, MapFlags.create);
  native.prefaultFollow(mapping, other, 0, 256 * MiB, MiB, 10_000);
  await until(() => mappedRssKb(file) >= 4 * 1024, 2000);
  native.releaseMapping(mapping); // unmaps at once: the thread must have let go of it
  t.equal(native.prefaultJobs(), 0, 'an unmapped mapping is no longer followed');
  t.equal(mappedRssKb(file), -1, 'and is gone from the process');
  const again = new Uint8Array(native.mapFile(path.join(dir, 'c'), MiB, MapFlags.create));
  again.fill(5);
  t.ok(
    again.every((b) => b === 5),
    'later mappings are intact',
  );
});

t.test('prefault: a writer slot cannot be moved away from the thread that owns it', async (t) => {
  const cells = native.prefaultWriter();
  try {
    structuredClone(cells, { transfer: [cells.buffer as ArrayBuffer] }); // Node 20 copies, 21+ throws
  } catch {}
  const proto = ArrayBuffer.prototype as { transfer?: (this: ArrayBuffer) => ArrayBuffer };
  if (typeof proto.transfer === 'function') t.throws(() => proto.transfer!.call(cells.buffer as ArrayBuffer));
  cells[0] = 42;
  t.equal(cells.length, 2, 'still attached');
  t.equal(cells[0], 42, 'and writable');
});

t.test('prefault: arguments are checked', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'seg');
  const mapping = native.mapFile(file, MiB, MapFlags.create);
  const cells = native.prefaultWriter();
  t.throws(() => native.prefaultFollow(new ArrayBuffer(8), cells, 0, MiB, MiB, 50), TypeError);
  t.throws(() => native.prefaultFollow(mapping, new Float64Array(2), 0, MiB, MiB, 50), TypeError);
  t.throws(() => native.prefaultFollow(mapping, cells, 0, MiB, 0, 50), RangeError);
  t.throws(() => native.prefaultFollow(mapping, cells, -1, MiB, MiB, 50), RangeError);
  const readOnly = native.mapFile(file, 0, MapFlags.readOnly);
  t.throws(() => native.prefaultFollow(readOnly, cells, 0, MiB, MiB, 50), TypeError);
  t.equal(native.prefaultJobs(), 0, 'nothing is followed after refused calls');
});

t.test('setThreadName: names the calling thread, cut to the 15 bytes the kernel keeps', (t) => {
  if (!threadNames()) {
    t.comment('skipped: no /proc here, thread names cannot be read back');
    t.end();
    return;
  }
  const own = readFileSync('/proc/thread-self/comm', 'utf8').trim();
  t.teardown(() => {
    native.setThreadName(own);
  });
  t.equal(native.setThreadName('tidemq-test-thread-name'), true, 'named');
  t.equal(readFileSync('/proc/thread-self/comm', 'utf8').trim(), 'tidemq-test-thr', 'the first 15 bytes');
  t.throws(() => native.setThreadName(7 as unknown as string), TypeError, 'a name must be a string');
  t.end();
});
