// The commit log asks for no readahead over the part of a segment still to be written, and gives
// it back once the segment is full. A first write into a never-written page would otherwise read
// ahead (read_ahead_kb, 8 MiB on the machine this was measured on) and zero-fill the whole window
// in one fault, holding the process's mmap lock meanwhile.
import path from 'node:path';
import t from 'tap';
import { MessageStore } from '../../src/index.js';
import { segmentFileName } from '../../src/store/mapped-segment.js';
import {
  cachedBytes,
  mappedVmas,
  NO_READAHEAD,
  readaheadOnFirstWrite,
  tempDir,
} from '../helpers/native-env.js';

const MiB = 1024 * 1024;
const page = 4096;

t.test(
  'commit log: a segment being written gets no readahead past the write position; a full one does',
  async (t) => {
    const dir = tempDir(t, 'tidemq-advice-');
    if (!readaheadOnFirstWrite(dir)) return t.plan(0, NO_READAHEAD);
    const segmentBytes = 16 * MiB;
    // prefault off: the appends below are the only writers of the segment's pages
    const store = await MessageStore.open(dir, { segmentBytes, prefault: false });
    t.teardown(() => store.close());
    const first = path.join(dir, 'commitlog', segmentFileName(0));
    const body = Buffer.alloc(1000, 7);
    store.append({ topic: 'a', body });
    t.ok(cachedBytes(first) <= 2 * page, `one record: ${cachedBytes(first)} B of the segment in memory`);
    for (let i = 0; i < 1000; i++) store.append({ topic: 'a', body });
    const wrote = store.stats().wrotePosition;
    t.ok(
      cachedBytes(first) <= wrote + 2 * page,
      `${wrote} B written: ${cachedBytes(first)} B of the segment in memory`,
    );
    const active = mappedVmas(first);
    t.ok(active.length > 0, 'the store maps the segment');
    const last = active[active.length - 1]!;
    t.ok(last.flags.includes('rr'), 'the part still to be written is advised random');
    t.ok(last.end - last.start >= segmentBytes - wrote - page, 'over everything past the write position');

    // fill the segment: the next append rolls, and the full one is advised normal again
    while (store.stats().segments < 2)
      store.appendBatch(Array.from({ length: 64 }, () => ({ topic: 'a', body })));
    const full = mappedVmas(first);
    t.ok(
      full.length > 0 && full.every((v) => !v.flags.includes('rr')),
      'a full segment keeps no random advice',
    );
    const second = path.join(dir, 'commitlog', segmentFileName(segmentBytes));
    const next = mappedVmas(second);
    t.ok(
      next.some((v) => v.flags.includes('rr')),
      'the next segment is advised from its write position',
    );
    t.ok(cachedBytes(second) < 4 * MiB, 'and read nothing ahead');
  },
);

t.test('commit log: reopened, the active segment is advised from its recovered write position', async (t) => {
  const dir = tempDir(t, 'tidemq-advice-');
  const segmentBytes = 16 * MiB;
  const body = Buffer.alloc(1000, 7);
  const a = await MessageStore.open(dir, { segmentBytes, prefault: false });
  for (let i = 0; i < 3000; i++) a.append({ topic: 'a', body });
  await a.close();
  const b = await MessageStore.open(dir, { segmentBytes, prefault: false });
  t.teardown(() => b.close());
  const wrote = b.stats().wrotePosition;
  t.ok(wrote > 3 * MiB, 'recovered the records');
  // The closed store's mapping may still be there (it goes with a collection): look at each
  // mapping of the file, a run of adjacent VMAs, for the reopened store's.
  const vmas = mappedVmas(path.join(dir, 'commitlog', segmentFileName(0)));
  const mappings: (typeof vmas)[] = [];
  for (const v of vmas) {
    const run = mappings[mappings.length - 1];
    if (run && run[run.length - 1]!.end === v.start) run.push(v);
    else mappings.push([v]);
  }
  const boundary = wrote - (wrote % page);
  const split = mappings.filter(
    (m) =>
      m.length === 2 &&
      !m[0]!.flags.includes('rr') &&
      m[0]!.end - m[0]!.start === boundary &&
      m[1]!.flags.includes('rr') &&
      m[1]!.end - m[1]!.start === segmentBytes - boundary,
  );
  t.equal(
    split.length,
    1,
    `one mapping is plain up to the write position's page and random after it: ${JSON.stringify(mappings.map((m) => m.map((v) => [v.end - v.start, v.flags.includes('rr')])))}`,
  );
});
