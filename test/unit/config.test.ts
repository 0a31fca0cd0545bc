/**
 * Configuration: every TIDEMQ_* variable is checked at open — an invalid value is INVALID_CONFIG
 * with a message naming the variable, never a silent default; options in code override env vars,
 * which override the defaults. process.env is changed only inside withEnv and always restored.
 */
import { readdirSync, readFileSync, statfsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { CONFIG_SPECS, MessageStore, resolveConfig } from '../../src/index.js';
import type { StoreOptions } from '../../src/store/types.js';
import { repoRoot, tempDir } from '../helpers/fs.js';
import { caught } from '../helpers/store.js';
import type { TestContext } from '../helpers/tap.js';

/** Every variable with values that are clearly wrong for it. */
const INVALID: Record<string, string[]> = {
  TIDEMQ_FLUSH: ['maybe', 'SYNC!', '1'],
  TIDEMQ_FLUSH_INTERVAL_MS: ['-1', 'abc', '12abc', '1.5'],
  TIDEMQ_FLUSH_LEAST_PAGES: ['-1', 'abc', '2.5'],
  TIDEMQ_FLUSH_THOROUGH_INTERVAL_MS: ['-1', 'abc', '10s'],
  TIDEMQ_SYNC_FLUSH_TIMEOUT_MS: ['-1', 'abc', 'Infinity'],
  TIDEMQ_SEGMENT_BYTES: ['abc', '0', '-4096', '12abc', '1.5'],
  TIDEMQ_DISPATCH_WORKERS: ['-1', 'abc', '1.5'],
  TIDEMQ_MAX_MESSAGE_BYTES: ['abc', '-1', '0', '4MB'],
  TIDEMQ_FILE_RESERVED_HOURS: ['abc', '-1'],
  TIDEMQ_DELETE_WHEN: ['24', 'abc', '4;x', ';', '-1', '4.5', '**'],
  TIDEMQ_DISK_MAX_USED_RATIO: ['1.5', '-0.1', 'abc'],
  TIDEMQ_DISK_CLEAN_FORCIBLY_RATIO: ['1.5', 'abc'],
  TIDEMQ_DISK_WARNING_RATIO: ['1.5', '-1', 'abc'],
  TIDEMQ_CLEAN_INTERVAL_MS: ['-1', 'abc'],
  TIDEMQ_PREFAULT: ['maybe', '2'],
  TIDEMQ_CQ_ENTRIES_PER_FILE: ['abc', '-1', '0', '1.5'],
  TIDEMQ_INDEX_HASH_SLOTS: ['abc', '-1', '0'],
  TIDEMQ_INDEX_MAX_ENTRIES: ['abc', '-1', '0'],
};

/** The variables DESIGN.md's flush policy table names. */
const FROM_DESIGN = [
  'TIDEMQ_FLUSH',
  'TIDEMQ_FLUSH_INTERVAL_MS',
  'TIDEMQ_FLUSH_LEAST_PAGES',
  'TIDEMQ_FLUSH_THOROUGH_INTERVAL_MS',
  'TIDEMQ_SYNC_FLUSH_TIMEOUT_MS',
  'TIDEMQ_SEGMENT_BYTES',
  'TIDEMQ_DISPATCH_WORKERS',
  'TIDEMQ_MAX_MESSAGE_BYTES',
  'TIDEMQ_FILE_RESERVED_HOURS',
  'TIDEMQ_DISK_MAX_USED_RATIO',
];

const ALL_VARS = Object.keys(INVALID);

async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved: Record<string, string | undefined> = {};
  for (const name of [...ALL_VARS, ...Object.keys(vars)]) saved[name] = process.env[name];
  for (const name of ALL_VARS) delete process.env[name];
  for (const [name, value] of Object.entries(vars)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  try {
    return await fn();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

async function openIn(t: TestContext, options: StoreOptions = {}): Promise<MessageStore> {
  const store = await MessageStore.open(tempDir(t), options);
  t.teardown(() => store.close());
  return store;
}

t.test('config: the suite covers every variable DESIGN.md and the store know', async (t) => {
  for (const name of FROM_DESIGN) t.ok(name in INVALID, `${name} (DESIGN.md) is tested`);
  for (const spec of CONFIG_SPECS) t.ok(spec.env in INVALID, `${spec.env} (config.ts) is tested`);
});

t.test('config: every variable is documented in the README', async (t) => {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  for (const name of ALL_VARS) t.ok(readme.includes(name), `README mentions ${name}`);
});

for (const [name, values] of Object.entries(INVALID)) {
  t.test(`config: invalid ${name} makes open fail with INVALID_CONFIG naming it`, async (t) => {
    const dir = tempDir(t);
    for (const value of values) {
      const err = await withEnv({ [name]: value }, () => caught(() => MessageStore.open(dir)));
      t.equal(
        (err as { code?: string } | undefined)?.code,
        'INVALID_CONFIG',
        `${name}=${JSON.stringify(value)} is refused`,
      );
      t.match(String(err), name, `the message names ${name}`);
    }
    // A refused open leaves nothing locked behind.
    const store = await withEnv({}, () => MessageStore.open(dir, { segmentBytes: 64 * 1024 }));
    await store.close();
    t.pass('the directory opens with a valid configuration afterwards');
  });
}

t.test('config: invalid options make open fail with INVALID_CONFIG naming the option', async (t) => {
  const cases: [string, Record<string, unknown>][] = [
    ['flush', { flush: 'maybe' }],
    ['segmentBytes', { segmentBytes: -1 }],
    ['segmentBytes', { segmentBytes: 1.5 }],
    ['flushIntervalMs', { flushIntervalMs: 'abc' }],
    ['diskWarningRatio', { diskWarningRatio: 2 }],
    ['maxMessageBytes', { maxMessageBytes: 0 }],
    ['noSuchOption', { noSuchOption: 1 }],
    ['deleteWhen', { deleteWhen: [25] }],
    ['deleteWhen', { deleteWhen: ['x'] }],
    ['deleteWhen', { deleteWhen: [[4]] }],
    // an interval over an hour could miss the deleteWhen hours altogether
    ['cleanIntervalMs', { cleanIntervalMs: 7_200_000 }],
  ];
  for (const [option, options] of cases) {
    const err = await withEnv({}, () => caught(() => MessageStore.open(tempDir(t), options as StoreOptions)));
    t.equal(
      (err as { code?: string } | undefined)?.code,
      'INVALID_CONFIG',
      `${JSON.stringify(options)} is refused`,
    );
    t.match(String(err), option, `the message names ${option}`);
  }
});

t.test('config: defaults apply when nothing is set', async (t) => {
  const stats = await withEnv({}, async () => (await openIn(t)).stats());
  t.equal(stats.flushMode, 'async', 'TIDEMQ_FLUSH defaults to async');
  t.ok(
    Number.isInteger(stats.segmentBytes) && stats.segmentBytes >= 4096,
    `a segment size is chosen (${stats.segmentBytes})`,
  );
});

t.test('config: env vars override the defaults', async (t) => {
  await withEnv({ TIDEMQ_FLUSH: 'sync', TIDEMQ_SEGMENT_BYTES: '131072' }, async () => {
    const store = await openIn(t);
    t.equal(store.stats().flushMode, 'sync');
    t.equal(store.stats().segmentBytes, 131072);
    const r = await store.put({ topic: 'cfg', body: 'x' });
    t.equal(r.queueOffset, 0);
    const dir = store.dir;
    const segments = readdirSync(path.join(dir, 'commitlog')).filter((n) => /^\d{20}$/.test(n));
    t.ok(segments.length >= 1);
    for (const s of segments)
      t.equal(statSync(path.join(dir, 'commitlog', s)).size, 131072, `segment ${s} is 131072 bytes`);
  });
});

t.test('config: options override env vars', async (t) => {
  await withEnv({ TIDEMQ_FLUSH: 'sync', TIDEMQ_SEGMENT_BYTES: '131072' }, async () => {
    const store = await openIn(t, { flush: 'async', segmentBytes: 65536 });
    t.equal(store.stats().flushMode, 'async');
    t.equal(store.stats().segmentBytes, 65536);
  });
});

t.test('config: TIDEMQ_MAX_MESSAGE_BYTES limits bodies, and the option overrides it', async (t) => {
  await withEnv({ TIDEMQ_MAX_MESSAGE_BYTES: '1000' }, async () => {
    const fromEnv = await openIn(t, { segmentBytes: 65536 });
    t.throws(() => fromEnv.append({ topic: 'm', body: Buffer.alloc(1001) }), { code: 'MESSAGE_TOO_LARGE' });
    t.equal(fromEnv.append({ topic: 'm', body: Buffer.alloc(1000) }).queueOffset, 0);
    const fromOption = await openIn(t, { segmentBytes: 65536, maxMessageBytes: 2000 });
    t.equal(fromOption.append({ topic: 'm', body: Buffer.alloc(1500) }).queueOffset, 0, 'the option wins');
  });
});

/** Usage as df shows it: used / (used + available). */
const tmpUsed = ((disk) => (disk.blocks - disk.bfree) / (disk.blocks - disk.bfree + disk.bavail))(
  statfsSync(os.tmpdir()),
);
t.test(
  'config: TIDEMQ_FILE_RESERVED_HOURS drives retention, and the option overrides it',
  {
    skip:
      tmpUsed > 0.6
        ? `the temp file system is ${Math.round(tmpUsed * 100)}% full: disk-pressure retention would interfere`
        : false,
  },
  async (t) => {
    const fill = (store: MessageStore): void => {
      for (let i = 0; i < 40; i++) store.append({ topic: 'r', body: Buffer.alloc(4000, 1) });
    };
    await withEnv({ TIDEMQ_FILE_RESERVED_HOURS: '0' }, async () => {
      const keep = await openIn(t, { segmentBytes: 65536, fileReservedHours: 72 });
      fill(keep);
      t.ok(keep.stats().segments >= 3, 'several segments written');
      t.equal(keep.runRetention().deletedSegments, 0, 'option 72 h: nothing expired');
      const drop = await openIn(t, { segmentBytes: 65536 });
      fill(drop);
      const segments = drop.stats().segments;
      t.equal(drop.runRetention().deletedSegments, segments - 1, 'env 0 h: all but the active segment go');
    });
  },
);

t.test(
  'config: TIDEMQ_DELETE_WHEN — the periodic cleaner deletes expired segments in those hours only; runRetention() at once',
  {
    skip:
      tmpUsed > 0.6
        ? `the temp file system is ${Math.round(tmpUsed * 100)}% full: disk-pressure retention would interfere`
        : false,
  },
  async (t) => {
    const hour = new Date().getHours();
    const fill = (store: MessageStore): number => {
      for (let i = 0; i < 40; i++) store.append({ topic: 'r', body: Buffer.alloc(4000, 1) });
      return store.stats().segments;
    };
    const settle = async (store: MessageStore, ms: number): Promise<number> => {
      const deadline = Date.now() + ms;
      while (store.stats().segments > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return store.stats().segments;
    };
    const base = { segmentBytes: 65536, fileReservedHours: 0, cleanIntervalMs: 20 };
    await withEnv({ TIDEMQ_DELETE_WHEN: String((hour + 12) % 24).padStart(2, '0') }, async () => {
      const waits = await openIn(t, base);
      const written = fill(waits);
      t.ok(written >= 3, `${written} segments, all expired`);
      t.equal(await settle(waits, 300), written, 'outside the hour the cleaner keeps them');
      t.equal(waits.runRetention().deletedSegments, written - 1, 'runRetention() deletes them at once');
    });
    await withEnv({ TIDEMQ_DELETE_WHEN: `${(hour + 23) % 24};${hour};${(hour + 1) % 24}` }, async () => {
      const now = await openIn(t, base);
      fill(now);
      t.equal(await settle(now, 3000), 1, 'in the hour the cleaner deletes them');
    });
    const anyHour = await withEnv({ TIDEMQ_DELETE_WHEN: String((hour + 12) % 24) }, () =>
      openIn(t, { ...base, deleteWhen: '*' }),
    );
    fill(anyHour);
    t.equal(await settle(anyHour, 3000), 1, 'the option "*" (any hour) overrides the env var');
  },
);

t.test('config: deleteWhen forms (RocketMQ\'s text, a number, an array, "*")', async (t) => {
  const hours = (deleteWhen: unknown, cleanIntervalMs?: number) =>
    resolveConfig({ deleteWhen, cleanIntervalMs } as StoreOptions, {}).deleteWhen;
  t.same(hours(undefined), [4], 'default: 04, as RocketMQ');
  t.same(hours('04'), [4]);
  t.same(hours('3;4;'), [3, 4], 'a trailing ";" is ignored, as RocketMQ does');
  t.same(hours(' 23 ; 3 ; 3 '), [3, 23], 'spaces and repeats');
  t.same(hours(4), [4], 'a number');
  t.same(hours([5, 4]), [4, 5], 'an array');
  t.equal(hours(' * ', 7_200_000), undefined, '"*": any hour (and then any clean interval)');
});
