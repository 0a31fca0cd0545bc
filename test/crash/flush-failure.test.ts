/**
 * A failed flush (injected through the addon's test hook) makes the store read-only: puts
 * waiting on it are rejected with STORE_READ_ONLY, none resolves, later writes are refused, and
 * stats() says so. Success is never reported for data that did not reach the disk.
 */
import t from 'tap';
import { MessageStore, StoreError } from '../../src/index.js';
import { native } from '../../src/native.js';
import type { AppendResult } from '../../src/store/types.js';
import { tempDir } from '../helpers/fs.js';
import { errorCode, errorCodeSync } from '../helpers/store.js';

const EIO = 5;
const ENOSPC = 28;
const SEGMENT_BYTES = 256 * 1024;

// Disarm whatever a test left armed (count 0 clears the hook).
t.afterEach(() => native.injectFlushFailure(EIO, 0));

const message = (i: number): { topic: string; body: string; queueId: number } => ({
  topic: 'flush-fail',
  body: `message ${i} ${'x'.repeat(i % 500)}`,
  queueId: i % 2,
});

for (const [name, errno] of [
  ['EIO', EIO],
  ['ENOSPC', ENOSPC],
] as const) {
  t.test(`flush failure (${name}, sync): every waiting put is rejected with STORE_READ_ONLY`, async (t) => {
    const dir = tempDir(t);
    const store = await MessageStore.open(dir, { flush: 'sync', segmentBytes: SEGMENT_BYTES });
    t.teardown(() => store.close().catch(() => {}));
    const before = await store.put(message(0));
    t.ok(store.stats().flushedPosition >= before.physicalOffset + before.size, 'a put resolves once flushed');

    native.injectFlushFailure(errno, 1);
    const puts = Array.from({ length: 32 }, (_, i) => store.put(message(i + 1)));
    const settled = await Promise.allSettled(puts);
    const resolved = settled
      .filter((s) => s.status === 'fulfilled')
      .map((s) => (s as PromiseFulfilledResult<AppendResult>).value.physicalOffset);
    t.same(resolved, [], 'no put resolved');
    const codes = new Set(
      settled.map((s) =>
        s.status === 'rejected'
          ? s.reason instanceof StoreError
            ? s.reason.code
            : String(s.reason)
          : 'resolved',
      ),
    );
    t.same([...codes], ['STORE_READ_ONLY'], 'every put rejected with STORE_READ_ONLY');

    const stats = store.stats();
    t.equal(stats.readOnly, true, 'stats().readOnly');
    t.ok(stats.flushFailures >= 1, 'stats().flushFailures counts it');
    t.ok(stats.flushedPosition < stats.wrotePosition, 'flushedPosition did not move past the failed data');

    const wrote = stats.wrotePosition;
    t.equal(
      errorCodeSync(() => store.append(message(99))),
      'STORE_READ_ONLY',
      'a later append is refused',
    );
    t.equal(await errorCode(() => store.put(message(100))), 'STORE_READ_ONLY', 'a later put is refused');
    t.equal(await errorCode(() => store.flush()), 'STORE_READ_ONLY', 'flush() is refused');
    t.equal(store.stats().wrotePosition, wrote, 'refused writes wrote nothing');

    // The one flush that failed was never retried in place: a good disk again changes nothing.
    t.equal(await errorCode(() => store.put(message(101))), 'STORE_READ_ONLY', 'still read-only later');
    t.equal(
      store.get(before.physicalOffset)?.body.toString(),
      message(0).body,
      'durable data is still readable',
    );
  });
}

t.test('flush failure (sync): puts issued while the failing flush runs are rejected too', async (t) => {
  const dir = tempDir(t);
  const store = await MessageStore.open(dir, { flush: 'sync', segmentBytes: SEGMENT_BYTES });
  t.teardown(() => store.close().catch(() => {}));
  native.injectFlushFailure(EIO, 1);
  const outcomes: string[] = [];
  const all: Promise<unknown>[] = [];
  // Puts spread over several turns of the event loop, so some wait for a later flush.
  for (let turn = 0; turn < 5; turn++) {
    for (let i = 0; i < 4; i++) {
      all.push(
        store.put(message(turn * 4 + i)).then(
          () => outcomes.push('resolved'),
          (err: unknown) => outcomes.push(err instanceof StoreError ? err.code : String(err)),
        ),
      );
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(all);
  t.equal(outcomes.length, 20);
  t.same([...new Set(outcomes)], ['STORE_READ_ONLY'], 'none resolved, all STORE_READ_ONLY');
});

t.test('flush failure (sync): the store reopens writable and keeps what was acknowledged', async (t) => {
  const dir = tempDir(t);
  let store = await MessageStore.open(dir, { flush: 'sync', segmentBytes: SEGMENT_BYTES });
  const acked = await Promise.all(Array.from({ length: 10 }, (_, i) => store.put(message(i))));
  native.injectFlushFailure(EIO, 1);
  await Promise.allSettled(Array.from({ length: 10 }, (_, i) => store.put(message(10 + i))));
  t.equal(store.stats().readOnly, true);
  await store.close().catch(() => {});

  store = await MessageStore.open(dir, { flush: 'sync', segmentBytes: SEGMENT_BYTES });
  t.teardown(() => store.close());
  t.equal(store.stats().readOnly, false, 'a new open is writable');
  for (const r of acked)
    t.equal(store.get(r.physicalOffset)?.body.toString(), message(acked.indexOf(r)).body);
  const next = await store.put(message(1000));
  t.ok(
    next.physicalOffset >= acked.at(-1)!.physicalOffset + acked.at(-1)!.size,
    'appends continue after the acked data',
  );
});

t.test('flush failure (async): store.flush() rejects and the store becomes read-only', async (t) => {
  const dir = tempDir(t);
  const store = await MessageStore.open(dir, {
    flush: 'async',
    segmentBytes: SEGMENT_BYTES,
    flushIntervalMs: 600_000,
    flushThoroughIntervalMs: 600_000,
  });
  t.teardown(() => store.close().catch(() => {}));
  for (let i = 0; i < 10; i++) store.append(message(i));
  native.injectFlushFailure(EIO, 1);
  const err = await errorCode(() => store.flush());
  t.not(err, 'NO_ERROR', `flush() rejected (${err})`);
  t.ok(['STORE_READ_ONLY', 'IO_ERROR'].includes(err), 'with a typed StoreError');
  t.equal(store.stats().readOnly, true, 'stats().readOnly');
  t.equal(
    errorCodeSync(() => store.append(message(10))),
    'STORE_READ_ONLY',
  );
  t.equal(await errorCode(() => store.put(message(11))), 'STORE_READ_ONLY');
});

t.test('flush failure (async): a failing background flush makes the store read-only', async (t) => {
  const dir = tempDir(t);
  const store = await MessageStore.open(dir, {
    flush: 'async',
    segmentBytes: SEGMENT_BYTES,
    flushIntervalMs: 10,
    flushLeastPages: 0,
  });
  t.teardown(() => store.close().catch(() => {}));
  native.injectFlushFailure(EIO, 1);
  store.append(message(0));
  const deadline = Date.now() + 5_000;
  while (!store.stats().readOnly && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.equal(store.stats().readOnly, true, 'read-only after the periodic flush failed');
  t.equal(
    errorCodeSync(() => store.append(message(1))),
    'STORE_READ_ONLY',
  );
});
