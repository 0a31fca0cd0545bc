import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Advice, MapFlags, native } from '../../src/native.js';
import { mappedRssKb, pageSize, skipWithoutReadahead, tempDir } from '../helpers/native-env.js';

const EIO = os.constants.errno.EIO;

t.test('mapped-file: create, write through a view, flush, reopen and read back', async (t) => {
  const file = path.join(tempDir(t), '00000000000000000000');
  const size = 64 * 1024;
  const mapping = native.mapFile(file, size, MapFlags.create);
  t.equal(mapping.byteLength, size);
  t.equal(statSync(file).size, size, 'preallocated to the full size');
  t.equal(statSync(file).mode & 0o777, 0o644);

  const view = new Uint8Array(mapping);
  t.ok(
    view.every((b) => b === 0),
    'a fresh mapping reads as zeroes',
  );
  view.set(Buffer.from('hello'), 0);
  view.set(Buffer.from('world'), 5000);
  native.flushSync(mapping, 0, 5);
  await native.flush(mapping, 4999, 6);
  await native.flush(mapping, 0, 0);

  const again = native.mapFile(file, 0, 0);
  t.equal(again.byteLength, size, 'size 0 opens at the current size');
  t.equal(Buffer.from(again, 0, 5).toString(), 'hello');
  t.equal(Buffer.from(again, 5000, 5).toString(), 'world');
  t.equal(readFileSync(file).subarray(5000, 5005).toString(), 'world', 'visible through read(2)');
  t.equal(native.mapFile(file, size, 0).byteLength, size, 'an equal explicit size is accepted');
});

t.test(
  'mapped-file: a flush unmaps the whole pages it wrote back; their bytes stay readable and writable',
  async (t) => {
    const file = path.join(tempDir(t), 'seg');
    const page = pageSize();
    const size = 64 * page;
    const mapping = native.mapFile(file, size, MapFlags.create);
    const view = new Uint8Array(mapping);
    const end = 16 * page + 100;
    for (let i = 0; i < end; i++) view[i] = (i * 7 + 3) & 0xff;
    t.ok(mappedRssKb(file) >= end / 1024, 'written pages are mapped before the flush');
    await native.flush(mapping, 0, end);
    t.ok(
      mappedRssKb(file) <= (2 * page) / 1024,
      `after the flush at most the unfinished last page stays mapped (${mappedRssKb(file)} kB)`,
    );
    t.ok(
      view.subarray(0, end).every((b, i) => b === ((i * 7 + 3) & 0xff)),
      'the same view reads every byte back',
    );
    t.ok(
      readFileSync(file)
        .subarray(0, end)
        .every((b, i) => b === ((i * 7 + 3) & 0xff)),
      'and so does read(2)',
    );
    // Writes after the flush, into an unmapped page and into the unfinished one, reach the disk too.
    view[5] = 0xee;
    view.fill(0xab, end, end + 50);
    native.flushSync(mapping, 0, end + 50);
    const disk = readFileSync(file);
    t.equal(disk[5], 0xee, 'a write into a flushed page after the flush');
    t.ok(
      disk.subarray(end, end + 50).every((b) => b === 0xab),
      'appending into the unfinished page',
    );
  },
);

t.test('mapped-file: create on an existing file fails with EEXIST', async (t) => {
  const file = path.join(tempDir(t), 'seg');
  writeFileSync(file, Buffer.alloc(4096));
  t.throws(() => native.mapFile(file, 4096, MapFlags.create), {
    code: 'EEXIST',
    errno: os.constants.errno.EEXIST,
    syscall: 'open',
    message: /^mapFile\(.*seg\): EEXIST: /,
  });
  t.equal(statSync(file).size, 4096, 'the existing file is untouched');
});

t.test('mapped-file: opening with a size other than the file size fails', async (t) => {
  const file = path.join(tempDir(t), 'seg');
  writeFileSync(file, Buffer.alloc(4096));
  t.throws(() => native.mapFile(file, 8192, 0), { code: 'EINVAL', message: /size differs/ });
  t.throws(() => native.mapFile(path.join(path.dirname(file), 'missing'), 0, 0), { code: 'ENOENT' });
});

t.test('mapped-file: a zero-length file cannot be mapped', async (t) => {
  const file = path.join(tempDir(t), 'empty');
  writeFileSync(file, '');
  t.throws(() => native.mapFile(file, 0, 0), { code: 'EINVAL', message: /empty/ });
  t.throws(() => native.mapFile(path.join(path.dirname(file), 'new'), 0, MapFlags.create), {
    code: 'EINVAL',
  });
  t.notOk(existsSync(path.join(path.dirname(file), 'new')), 'nothing created');
});

t.test('mapped-file: a read-only mapping is readable and refuses prefault', async (t) => {
  const file = path.join(tempDir(t), 'seg');
  const content = Buffer.alloc(8192, 7);
  writeFileSync(file, content);
  const mapping = native.mapFile(file, 0, MapFlags.readOnly);
  t.same(Buffer.from(mapping), content);
  native.flushSync(mapping, 0, 8192);
  await t.rejects(async () => native.prefault(mapping, 0, 4096), TypeError);
  t.throws(() => native.mapFile(file, 0, MapFlags.readOnly | MapFlags.create), { code: 'EINVAL' });
});

t.test('mapped-file: arguments are checked', async (t) => {
  const file = path.join(tempDir(t), 'seg');
  const mapping = native.mapFile(file, 4096, MapFlags.create);
  t.throws(() => native.mapFile(42 as unknown as string, 4096, 0), TypeError);
  t.throws(() => native.mapFile(file, -1, 0), RangeError);
  t.throws(() => native.mapFile(file, 1.5, 0), RangeError);
  t.throws(() => native.mapFile(file, 4096, 8), RangeError);
  t.throws(() => native.flushSync(mapping, 4000, 100), RangeError);
  t.throws(() => native.flushSync(mapping, 4097, 0), RangeError);
  t.throws(() => native.flushSync(new ArrayBuffer(4096), 0, 10), TypeError, 'not a mapping');
  t.throws(() => native.flush(mapping, -1, 1), RangeError, 'flush checks synchronously');
  t.throws(() => native.advise(mapping, 0, 4096, 9 as never), RangeError);
  t.throws(() => native.residentBytes(mapping, 4000, 100), RangeError);
  t.throws(() => native.residentBytes(new ArrayBuffer(4096), 0, 10), TypeError, 'not a mapping');
});

t.test(
  'mapped-file: residentBytes counts the pages in memory, and random advice stops readahead',
  async (t) => {
    const page = pageSize();
    const size = 256 * page;
    const dir = tempDir(t);
    if (skipWithoutReadahead(t, dir)) return;
    const mapping = native.mapFile(path.join(dir, 'seg'), size, MapFlags.create);
    t.equal(native.residentBytes(mapping, 0, size), 0, 'a fresh preallocated file has no page in memory');
    native.advise(mapping, 0, size, Advice.random);
    const view = new Uint8Array(mapping);
    view[5 * page + 7] = 1;
    view[200 * page] = 1;
    t.equal(native.residentBytes(mapping, 0, size), 2 * page, 'exactly the two pages written');
    t.equal(native.residentBytes(mapping, 5 * page + 100, 10), page, 'a range inside one page: that page');
    t.equal(native.residentBytes(mapping, 6 * page, 194 * page), 0, 'none between them');
    t.equal(native.residentBytes(mapping, 0, 0), 0);
    // Without the advice, one write brings in a readahead window (else skipWithoutReadahead skipped).
  },
);

t.test('mapped-file: advise and prefault cover a range', async (t) => {
  const file = path.join(tempDir(t), 'seg');
  const size = 1 << 20;
  const mapping = native.mapFile(file, size, MapFlags.create);
  for (const advice of Object.values(Advice)) native.advise(mapping, 100, size - 200, advice);
  await native.prefault(mapping, 10, size - 10);
  await native.prefault(mapping, 0, 0);
  t.ok(
    new Uint8Array(mapping).every((b) => b === 0),
    'prefault writes only zeroes',
  );
  // Prefault may run behind the writer: it never changes a byte already written.
  const view = new Uint8Array(mapping);
  for (let i = 0; i < 3 * 4096; i++) view[i] = (i % 251) + 1;
  await native.prefault(mapping, 0, size);
  t.ok(
    view.subarray(0, 3 * 4096).every((b, i) => b === (i % 251) + 1),
    'prefault keeps written bytes',
  );
});

t.test('flush: an injected failure rejects and throws, then flushing works again', async (t) => {
  const file = path.join(tempDir(t), 'seg');
  const mapping = native.mapFile(file, 4096, MapFlags.create);
  native.injectFlushFailure(EIO, 2);
  await t.rejects(native.flush(mapping, 0, 4096), { code: 'EIO', errno: EIO, syscall: 'msync' });
  t.throws(() => native.flushSync(mapping, 0, 4096), { code: 'EIO', message: /^flushSync: EIO: / });
  await native.flush(mapping, 0, 4096);
  native.flushSync(mapping, 0, 4096);

  // Program order decides which calls fail, even with several flushes in flight.
  native.injectFlushFailure(os.constants.errno.ENOSPC, 1);
  const results = await Promise.allSettled([native.flush(mapping, 0, 1), native.flush(mapping, 0, 1)]);
  t.same(
    results.map((r) => r.status),
    ['rejected', 'fulfilled'],
  );
  native.injectFlushFailure(EIO, 1);
  native.injectFlushFailure(EIO, 0);
  native.flushSync(mapping, 0, 1);
  t.throws(() => native.injectFlushFailure(0, 1), RangeError);
});

// A 1 MiB tmpfs to run out of space on. Mounting needs root (CAP_SYS_ADMIN); skipped otherwise.
function mountSmallTmpfs(): { dir: string; skip: string | false } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tidemq-enospc-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'pipe' });
    return { dir, skip: false };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return { dir, skip: `cannot mount a 1 MiB tmpfs here (needs root): ${String(err).split('\n')[0]}` };
  }
}

const tmpfs = mountSmallTmpfs();
t.test(
  'mapped-file: ENOSPC at creation is an error, leaves no file, and the process lives',
  { skip: tmpfs.skip },
  async (t) => {
    t.teardown(() => {
      // Lazy: a mapping still waiting for GC must not keep the mount (or the test) alive.
      execFileSync('umount', ['-l', tmpfs.dir], { stdio: 'pipe' });
      rmSync(tmpfs.dir, { recursive: true, force: true });
    });
    const file = path.join(tmpfs.dir, '00000000000000000000');
    t.throws(() => native.mapFile(file, 8 << 20, MapFlags.create), {
      code: 'ENOSPC',
      errno: os.constants.errno.ENOSPC,
      syscall: 'posix_fallocate',
      message: /ENOSPC: No space left on device/,
    });
    t.same(readdirSync(tmpfs.dir), [], 'the partial file was unlinked');
    const small = native.mapFile(file, 64 * 1024, MapFlags.create);
    new Uint8Array(small)[0] = 1;
    native.flushSync(small, 0, 1);
    t.pass('still alive and able to map what fits');
  },
);
