/**
 * ENOSPC: on a small tmpfs mounted by the test, the store refuses writes with DISK_FULL, loses
 * nothing already acknowledged, never dies of SIGBUS (segments are preallocated, so running out
 * of space is an error at segment creation), and accepts writes again once space is freed.
 * Also: usage above diskWarningRatio refuses writes until it falls.
 *
 * Mounting needs root (CAP_SYS_ADMIN); where it is not permitted the suite is skipped, saying so.
 *
 * A deleted segment's pages are returned to the file system only when its mapping is unmapped,
 * which the finalizer does after GC; the suite needs global.gc to show both sides of that, so
 * without --expose-gc this file runs itself again with it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type tap from 'tap';
import { MessageStore } from '../../src/index.js';
import { runChild } from '../helpers/child.js';
import { compiledTest } from '../helpers/fs.js';
import { diskFullBody } from '../helpers/messages.js';
import { errorCodeSync } from '../helpers/store.js';
import type { TestContext } from '../helpers/tap.js';

const MiB = 1024 * 1024;
const FILLER = compiledTest('crash/disk-filler-child');

function tryMount(sizeMiB: number): { dir: string } | { error: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tidemq-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir], { stdio: 'pipe' });
    return { dir };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    return { error: stderr || String(err) };
  }
}

function unmount(dir: string): void {
  // Mappings of the store's segments live until their finalizers run; let them go first.
  if (gc) gc();
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  }
  rmSync(dir, { recursive: true, force: true });
}

/** A fresh tmpfs of sizeMiB, unmounted when the test ends. */
function tmpfs(t: TestContext, sizeMiB: number): string {
  const mounted = tryMount(sizeMiB);
  if ('error' in mounted) throw new Error(`mount failed after the probe succeeded: ${mounted.error}`);
  t.teardown(() => unmount(mounted.dir));
  return mounted.dir;
}

const gc = (globalThis as { gc?: () => void }).gc;

async function collectGarbage(): Promise<void> {
  for (let i = 0; i < 6; i++) {
    gc!();
    await nextTurn();
  }
}

if (typeof gc !== 'function') {
  // Same loaders and flags tap gave us, plus --expose-gc; the child's TAP output is ours.
  const child = spawnSync(
    process.execPath,
    ['--expose-gc', ...process.execArgv, fileURLToPath(import.meta.url)],
    {
      stdio: 'inherit',
    },
  );
  process.exitCode = child.status ?? 1;
} else {
  const { default: t } = await import('tap');
  runSuite(t);
}

function runSuite(t: typeof tap): void {
  const probe = tryMount(1);
  const skip =
    'error' in probe
      ? `cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): ${probe.error} — ENOSPC suite skipped`
      : false;
  if ('dir' in probe) unmount(probe.dir);

  t.test(
    'disk full: DISK_FULL at segment creation, nothing acknowledged lost, no SIGBUS, writes resume after retention',
    { skip },
    async (t) => {
      const mount = tmpfs(t, 4);
      const dir = path.join(mount, 'store');

      const child = await runChild(FILLER, [dir]);
      t.equal(
        child.signal,
        null,
        `the writer was not killed by a signal (got ${child.signal}: SIGBUS would show here)`,
      );
      t.equal(child.code, 0, `the writer exited normally (stderr: ${child.stderr.slice(0, 500)})`);
      const acked = new Map<number, number>();
      let refusal: string[] | undefined;
      for (const line of child.stdout.split('\n')) {
        const ok = /^ok (\d+) (\d+)$/.exec(line);
        if (ok) acked.set(Number(ok[1]), Number(ok[2]));
        if (line.startsWith('refused ')) refusal = line.split(' ');
      }
      t.ok(acked.size > 100, `${acked.size} puts resolved before the disk filled`);
      t.ok(refusal, 'a put was refused');
      t.equal(refusal?.[1], 'DISK_FULL', 'with DISK_FULL');
      t.equal(refusal?.[2], refusal?.[3], 'the refused put wrote nothing (wrotePosition unchanged)');
      t.equal(refusal?.[4], 'true', 'stats().diskFull was set');
      t.ok(child.stdout.includes('closed\n'), 'the store closed cleanly on the full disk');

      const store = await MessageStore.open(dir, { segmentBytes: MiB, fileReservedHours: 0 });
      t.teardown(() => store.close().catch(() => {}));
      const problems: string[] = [];
      for (const [i, offset] of acked) {
        const m = store.get(offset);
        if (!m || !diskFullBody(i).equals(m.body)) problems.push(`put ${i} at ${offset} lost or changed`);
      }
      t.same(problems.slice(0, 10), [], 'every acknowledged put is readable after reopen');
      t.equal([...store.scan()].length, acked.size, 'and nothing else is in the log');

      const freeBytes = (): number => {
        const s = statfsSync(mount);
        return s.bavail * s.bsize;
      };
      const freeBefore = freeBytes();
      const { deletedSegments } = store.runRetention();
      t.ok(deletedSegments >= 1, `retention deleted ${deletedSegments} segments`);
      t.equal(store.stats().diskFull, false, 'no longer flagged full');
      const segmentsAfterRetention = store.stats().segments;

      // Enough 8 KiB records to need two new segments: only fits if the deleted ones' space is back.
      const added: { i: number; offset: number }[] = [];
      let next = 100_000;
      const appendUntilRefused = (count: number): string => {
        for (let n = 0; n < count; n++) {
          const code = errorCodeSync(() =>
            added.push({
              i: next,
              offset: store.append({ topic: 'disk-full', body: diskFullBody(next) }).physicalOffset,
            }),
          );
          if (code !== 'NO_ERROR') return code;
          next++;
        }
        return 'NO_ERROR';
      };
      // Without a GC: the store dropped its references, nothing else holds the deleted segments.
      let withoutGc = appendUntilRefused(200);
      const deadline = Date.now() + 2_000;
      while (withoutGc !== 'NO_ERROR' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        withoutGc = appendUntilRefused(200 - added.length);
      }
      t.equal(
        withoutGc,
        'NO_ERROR',
        `writes resume after retention without waiting for a GC (free space ${freeBefore} -> ${freeBytes()} bytes; deleted segments stay allocated while mapped)`,
      );
      await collectGarbage();
      const created = store.stats().segments - segmentsAfterRetention;
      t.ok(
        freeBytes() >= freeBefore + (deletedSegments - created) * MiB,
        `after GC the deleted segments' space is back (${freeBytes()} bytes free; ${created} new segments since)`,
      );
      t.equal(appendUntilRefused(200 - added.length), 'NO_ERROR', 'after GC, writes resume');
      t.ok(added.at(-1)!.offset - added[0]!.offset > MiB, 'rolling into new segments');
      await store.flush();
      await store.close();

      const again = await MessageStore.open(dir, { segmentBytes: MiB });
      t.teardown(() => again.close().catch(() => {}));
      const lost = added.filter(
        ({ i, offset }) => !diskFullBody(i).equals(again.get(offset)?.body ?? Buffer.alloc(0)),
      );
      t.same(lost, [], 'the new writes survive a reopen');
    },
  );

  t.test('disk full: deleting someone else’s file lets writes resume', { skip }, async (t) => {
    const mount = tmpfs(t, 4);
    const filler = path.join(mount, 'filler');
    writeFileSync(filler, Buffer.alloc(Math.floor(1.5 * MiB), 1));
    const dir = path.join(mount, 'store');
    mkdirSync(dir);
    const store = await MessageStore.open(dir, { segmentBytes: MiB });
    t.teardown(() => store.close().catch(() => {}));
    const acked: { i: number; offset: number }[] = [];
    let code = 'NO_ERROR';
    for (let i = 0; i < 1000 && code === 'NO_ERROR'; i++) {
      code = errorCodeSync(() =>
        acked.push({ i, offset: store.append({ topic: 'df', body: diskFullBody(i) }).physicalOffset }),
      );
    }
    t.equal(code, 'DISK_FULL', `refused after ${acked.length} appends`);
    await store.flush();

    rmSync(filler);
    let resumed = false;
    const deadline = Date.now() + 3_000;
    const next = acked.length;
    while (!resumed && Date.now() < deadline) {
      resumed = errorCodeSync(() => store.append({ topic: 'df', body: diskFullBody(next) })) === 'NO_ERROR';
      if (!resumed) await new Promise((r) => setTimeout(r, 50));
    }
    t.ok(resumed, 'once the space is back, appends are accepted again');
    for (let i = next + 1; i < next + 50; i++) store.append({ topic: 'df', body: diskFullBody(i) });
    t.ok(store.stats().wrotePosition > 2 * MiB, 'and segments roll again');
    const lost = acked.filter(
      ({ i, offset }) => !diskFullBody(i).equals(store.get(offset)?.body ?? Buffer.alloc(0)),
    );
    t.same(lost, [], 'nothing written before the refusal was lost');
  });

  t.test('disk full: usage above diskWarningRatio refuses writes until it falls', { skip }, async (t) => {
    const mount = tmpfs(t, 8);
    const dir = path.join(mount, 'store');
    const store = await MessageStore.open(dir, {
      segmentBytes: MiB,
      diskMaxUsedRatio: 0.4,
      diskCleanForciblyRatio: 0.45,
      diskWarningRatio: 0.5,
      cleanIntervalMs: 50,
    });
    t.teardown(() => store.close().catch(() => {}));
    t.equal(
      errorCodeSync(() => store.append({ topic: 'w', body: 'fits' })),
      'NO_ERROR',
      'writes accepted at low usage',
    );

    const filler = path.join(mount, 'filler');
    writeFileSync(filler, Buffer.alloc(4 * MiB, 1));
    let code = 'NO_ERROR';
    const deadline = Date.now() + 3_000;
    while (code === 'NO_ERROR' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      code = errorCodeSync(() => store.append({ topic: 'w', body: 'small' }));
    }
    t.equal(code, 'DISK_FULL', 'above the warning ratio, writes are refused with DISK_FULL');
    t.equal(store.stats().diskFull, true, 'stats().diskFull');

    rmSync(filler);
    let resumed = false;
    const until = Date.now() + 3_000;
    while (!resumed && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
      resumed = errorCodeSync(() => store.append({ topic: 'w', body: 'again' })) === 'NO_ERROR';
    }
    t.ok(resumed, 'below the ratio again, writes are accepted without a reopen');
    t.equal(store.stats().diskFull, false);
  });

  t.test(
    'retention: above diskMaxUsedRatio expired segments go outside the deleteWhen hours',
    { skip },
    async (t) => {
      const mount = tmpfs(t, 8);
      const dir = path.join(mount, 'store');
      const notNow = (new Date().getHours() + 12) % 24;
      const store = await MessageStore.open(dir, {
        segmentBytes: MiB / 2,
        fileReservedHours: 0,
        deleteWhen: [notNow],
        diskMaxUsedRatio: 0.5,
        diskCleanForciblyRatio: 0.9,
        diskWarningRatio: 0.95,
        cleanIntervalMs: 20,
      });
      t.teardown(() => store.close().catch(() => {}));
      for (let i = 0; i < 4 * 120; i++) store.append({ topic: 'r', body: Buffer.alloc(4000, 2) });
      const written = store.stats().segments;
      t.ok(written >= 4, `${written} segments written, every one expired (0 h)`);
      await new Promise((r) => setTimeout(r, 300));
      t.equal(store.stats().segments, written, `below the ratio the cleaner waits for ${notNow}:00`);

      writeFileSync(path.join(mount, 'filler'), Buffer.alloc(3 * MiB, 1));
      const deadline = Date.now() + 3_000;
      while (store.stats().segments > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      t.equal(store.stats().segments, 1, 'above it, every expired segment but the active one goes at once');
    },
  );
}
