// The commit log faults its pages in a fixed lead ahead of the writer (PREFAULT_LEAD_BYTES), one
// chunk at a time, and carries the lead into the prepared next segment near the end of the active
// one, rather than faulting whole segments in at once. Residency is read from /proc/self/smaps
// (the store's writable mapping of each segment file); flushes are held off so that none of the
// written pages is unmapped by a flush meanwhile.
import path from 'node:path';
import t from 'tap';
import { MessageStore } from '../../src/index.js';
import { PREFAULT_CHUNK_BYTES, PREFAULT_LEAD_BYTES } from '../../src/store/commit-log.js';
import { segmentFileName } from '../../src/store/mapped-segment.js';
import { mappedRssKb, tempDir } from '../helpers/native-env.js';

const MiB = 1024 * 1024;
const segmentBytes = 128 * MiB;
const kb = (bytes: number) => bytes / 1024;

/** Rss of `file`'s mapping once it has stopped growing (or after `ms`). */
async function settledRssKb(file: string, ms = 15_000): Promise<number> {
  let last = -2;
  let stableSince = Date.now();
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const now = mappedRssKb(file);
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= 300) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return last;
}

/** A store with big segments, prefault on, and flushes held off; closed at teardown. */
async function openStore(
  t: { teardown(fn: () => unknown): void },
  prefix: string,
): Promise<{ dir: string; store: MessageStore }> {
  const dir = tempDir(t, prefix);
  const store = await MessageStore.open(dir, {
    segmentBytes,
    prefault: true,
    flushIntervalMs: 3_600_000,
    flushThoroughIntervalMs: 3_600_000,
  });
  t.teardown(() => store.close());
  return { dir, store };
}

t.test(
  'commit log: pages are faulted in a lead ahead of the writer, into the next segment near the end',
  async (t) => {
    const { dir, store } = await openStore(t, 'tidemq-prefault-');
    const segmentFile = (n: number) => path.join(dir, 'commitlog', segmentFileName(n * segmentBytes));
    const body = Buffer.alloc(16 * 1024, 1);
    const write = (bytes: number) => {
      for (let done = 0; done < bytes; done += 64 * body.length) {
        store.appendBatch(Array.from({ length: 64 }, () => ({ topic: 'p', body })));
      }
    };

    write(MiB);
    let wrote = store.stats().wrotePosition;
    const first = await settledRssKb(segmentFile(0));
    t.ok(
      first >= kb(wrote + PREFAULT_LEAD_BYTES) - 4 &&
        first <= kb(wrote + PREFAULT_LEAD_BYTES + PREFAULT_CHUNK_BYTES) + 4,
      `after ${(wrote / MiB).toFixed(1)} MiB written, ${(first / 1024).toFixed(1)} MiB of the segment is faulted in (the lead is ${PREFAULT_LEAD_BYTES / MiB} MiB), not all ${segmentBytes / MiB} MiB`,
    );
    const preparedKb = mappedRssKb(segmentFile(1));
    t.ok(
      preparedKb >= 0 && preparedKb <= 4,
      `the prepared next segment is mapped, with no pages yet (${preparedKb} kB)`,
    );

    // Up to 16 MiB short of the end: the lead runs on into the next segment by ~16 MiB.
    write(segmentBytes - 16 * MiB - wrote);
    wrote = store.stats().wrotePosition;
    t.ok(wrote < segmentBytes, 'still in the first segment');
    await settledRssKb(segmentFile(0));
    const next = await settledRssKb(segmentFile(1));
    const carried = wrote + PREFAULT_LEAD_BYTES - segmentBytes;
    t.ok(
      next >= kb(carried) - 4 && next <= kb(carried + PREFAULT_CHUNK_BYTES) + 4,
      `the next segment holds the lead's remaining ${(carried / MiB).toFixed(1)} MiB (${(next / 1024).toFixed(1)} MiB faulted in)`,
    );
  },
);

t.test(
  'commit log: the prefault follower keeps ahead of a synchronous append loop (no event loop turns)',
  async (t) => {
    const { dir, store } = await openStore(t, 'tidemq-prefault-sync-');
    const file = path.join(dir, 'commitlog', segmentFileName(0));
    const body = Buffer.alloc(16 * 1024, 2);
    const batch = Array.from({ length: 64 }, () => ({ topic: 'p', body }));
    store.appendBatch(batch);
    await settledRssKb(file); // the first lead, faulted in while the loop is idle
    // From here on nothing yields: only a native thread that follows the write position can fault
    // pages in beyond what the loop itself wrote.
    const sleep = new Int32Array(new SharedArrayBuffer(4));
    let wrote = 0;
    let ahead = 0;
    const deadline = Date.now() + 10_000;
    while (wrote < 64 * MiB && Date.now() < deadline) {
      store.appendBatch(batch);
      wrote = store.stats().wrotePosition;
      Atomics.wait(sleep, 0, 0, 1); // ~1 ms a batch of 1 MiB: a writer at ~1 GB/s at most
    }
    for (let i = 0; i < 2000 && ahead < 8 * MiB; i++) {
      ahead = mappedRssKb(file) * 1024 - wrote;
      Atomics.wait(sleep, 0, 0, 1);
    }
    t.ok(
      ahead >= 8 * MiB,
      `after ${(wrote / MiB).toFixed(0)} MiB appended without a turn of the event loop, ${(ahead / MiB).toFixed(1)} MiB past the write position is faulted in`,
    );
  },
);
