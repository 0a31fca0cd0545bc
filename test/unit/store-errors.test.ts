/**
 * Operating errors of the facade: bad input throws the right StoreError code and writes
 * nothing; a second open is STORE_LOCKED (same process and another one); a closed store is
 * STORE_CLOSED; a sync put not durable in time is FLUSH_DISK_TIMEOUT.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { MessageStore } from '../../src/index.js';
import type { Message } from '../../src/store/types.js';
import { runChild } from '../helpers/child.js';
import { compiledTest, tempDir } from '../helpers/fs.js';
import { caught, errorCode, errorCodeSync } from '../helpers/store.js';
import type { TestContext } from '../helpers/tap.js';

const SEGMENT_BYTES = 64 * 1024;
const MAX_MESSAGE_BYTES = 1024;

async function openStore(t: TestContext, extra: object = {}): Promise<MessageStore> {
  const store = await MessageStore.open(tempDir(t), {
    segmentBytes: SEGMENT_BYTES,
    maxMessageBytes: MAX_MESSAGE_BYTES,
    ...extra,
  });
  t.teardown(() => store.close().catch(() => {}));
  return store;
}

/** Each bad message throws `code` from append and rejects with it from put, writing nothing. */
async function expectRefused(
  t: TestContext,
  store: MessageStore,
  cases: [string, unknown][],
  codes: string[],
): Promise<void> {
  for (const [what, msg] of cases) {
    const before = store.stats();
    const fromAppend = errorCodeSync(() => store.append(msg as Message));
    const fromPut = await errorCode(() => store.put(msg as Message));
    t.ok(codes.includes(fromAppend), `${what}: append throws ${codes.join('/')} (got ${fromAppend})`);
    t.ok(codes.includes(fromPut), `${what}: put rejects with ${codes.join('/')} (got ${fromPut})`);
    const after = store.stats();
    t.equal(after.wrotePosition, before.wrotePosition, `${what}: nothing written`);
    t.equal(after.appended, before.appended, `${what}: nothing counted`);
  }
}

t.test('input: invalid topics are INVALID_TOPIC', async (t) => {
  const store = await openStore(t);
  const body = 'b';
  await expectRefused(
    t,
    store,
    [
      ['empty topic', { topic: '', body }],
      ['space', { topic: 'a b', body }],
      ['slash', { topic: 'a/b', body }],
      ['dot', { topic: 'a.b', body }],
      ['non-ASCII', { topic: 'tópico', body }],
      ['128 characters', { topic: 'x'.repeat(128), body }],
      ['newline', { topic: 'a\nb', body }],
    ],
    ['INVALID_TOPIC'],
  );
  await expectRefused(
    t,
    store,
    [
      ['missing topic', { body }],
      ['numeric topic', { topic: 42, body }],
    ],
    ['INVALID_TOPIC', 'INVALID_MESSAGE'],
  );
  for (const topic of ['x'.repeat(127), 'aZ09_%|-', 'A']) {
    t.equal(
      store.append({ topic, body }).queueOffset,
      0,
      `topic ${JSON.stringify(topic.slice(0, 20))} is valid`,
    );
  }
});

t.test('input: a body above maxMessageBytes is MESSAGE_TOO_LARGE, measured in bytes', async (t) => {
  const store = await openStore(t);
  await expectRefused(
    t,
    store,
    [
      ['binary body one byte too large', { topic: 'big', body: Buffer.alloc(MAX_MESSAGE_BYTES + 1, 7) }],
      [
        'string body of 1.2x the limit in UTF-8 bytes, fewer characters',
        { topic: 'big', body: 'é'.repeat(600) },
      ],
    ],
    ['MESSAGE_TOO_LARGE'],
  );
  t.equal(
    store.append({ topic: 'big', body: Buffer.alloc(MAX_MESSAGE_BYTES, 7) }).queueOffset,
    0,
    'exactly the limit is fine',
  );
  t.equal(store.append({ topic: 'big', body: 'é'.repeat(512) }).queueOffset, 1, '1024 UTF-8 bytes is fine');
});

t.test('input: bodies that are neither string nor binary are INVALID_MESSAGE', async (t) => {
  const store = await openStore(t);
  await expectRefused(
    t,
    store,
    [
      ['number body', { topic: 'b', body: 42 }],
      ['object body', { topic: 'b', body: { a: 1 } }],
      ['array body', { topic: 'b', body: [1, 2, 3] }],
      ['null body', { topic: 'b', body: null }],
      ['missing body', { topic: 'b' }],
      ['ArrayBuffer body', { topic: 'b', body: new ArrayBuffer(4) }],
    ],
    ['INVALID_MESSAGE'],
  );
  await expectRefused(
    t,
    store,
    [
      ['null message', null],
      ['string message', 'hello'],
      ['undefined message', undefined],
    ],
    ['INVALID_MESSAGE'],
  );
  t.equal(
    store.append({ topic: 'b', body: new Uint8Array([1, 2]) }).queueOffset,
    0,
    'a Uint8Array body is fine',
  );
  t.equal(store.append({ topic: 'b', body: '' }).queueOffset, 1, 'an empty body is fine');
});

t.test('input: bad queueIds are INVALID_MESSAGE', async (t) => {
  const store = await openStore(t);
  await expectRefused(
    t,
    store,
    [
      ['negative', { topic: 'q', body: 'b', queueId: -1 }],
      ['fraction', { topic: 'q', body: 'b', queueId: 1.5 }],
      ['NaN', { topic: 'q', body: 'b', queueId: Number.NaN }],
      ['string', { topic: 'q', body: 'b', queueId: '1' }],
      ['beyond int32', { topic: 'q', body: 'b', queueId: 2 ** 31 }],
    ],
    ['INVALID_MESSAGE'],
  );
  t.equal(store.append({ topic: 'q', body: 'b', queueId: 7 }).queueOffset, 0, 'queueId 7 starts at 0');
});

t.test('input: bad keys, tags and properties are INVALID_MESSAGE', async (t) => {
  const store = await openStore(t);
  await expectRefused(
    t,
    store,
    [
      ['non-string key', { topic: 'k', body: 'b', keys: [1, 2] }],
      ['key with \\u0001', { topic: 'k', body: 'b', keys: 'a\u0001b' }],
      ['key with \\u0002', { topic: 'k', body: 'b', keys: ['ok', 'a\u0002b'] }],
      ['keys object', { topic: 'k', body: 'b', keys: { a: 1 } }],
      ['tags with \\u0002', { topic: 'k', body: 'b', tags: 'a\u0002' }],
      ['numeric tags', { topic: 'k', body: 'b', tags: 5 }],
      ['property value not a string', { topic: 'k', body: 'b', properties: { a: 1 } }],
      ['property name with \\u0001', { topic: 'k', body: 'b', properties: { 'a\u0001': 'v' } }],
      ['property value with \\u0002', { topic: 'k', body: 'b', properties: { a: 'v\u0002' } }],
    ],
    ['INVALID_MESSAGE'],
  );
  await expectRefused(
    t,
    store,
    [['properties over 32767 bytes', { topic: 'k', body: 'b', properties: { big: 'p'.repeat(40_000) } }]],
    ['INVALID_MESSAGE', 'MESSAGE_TOO_LARGE'],
  );
  const r = store.append({ topic: 'k', body: 'b', keys: ['a', 'b'], tags: 'T', properties: { p: 'v' } });
  t.equal(r.queueOffset, 0, 'the queue has no hole from the refused messages');
  const back = store.get(r.physicalOffset)!;
  t.same(back.keys, ['a', 'b']);
  t.equal(back.tags, 'T');
  t.equal(back.properties.p, 'v');
  t.equal([...store.scan()].length, 1, 'only the valid message is in the log');
});

t.test('lock: a second open in the same process is STORE_LOCKED', async (t) => {
  const dir = tempDir(t);
  const first = await MessageStore.open(dir, { segmentBytes: SEGMENT_BYTES });
  const err = await caught(() => MessageStore.open(dir, { segmentBytes: SEGMENT_BYTES }));
  t.equal((err as { code?: string })?.code, 'STORE_LOCKED', 'the second open is refused');
  t.match(String(err), /open|lock/i, 'the message says why');
  const r = first.append({ topic: 'lock', body: 'still works' });
  t.equal(first.get(r.physicalOffset)?.body.toString(), 'still works', 'the first store is unaffected');
  await first.close();
  const again = await MessageStore.open(dir, { segmentBytes: SEGMENT_BYTES });
  t.equal(
    again.get(r.physicalOffset)?.body.toString(),
    'still works',
    'after close the directory opens again',
  );
  await again.close();
});

t.test('lock: an open from another process is STORE_LOCKED', async (t) => {
  const dir = tempDir(t);
  const child = compiledTest('unit/open-child');
  const options = JSON.stringify({ segmentBytes: SEGMENT_BYTES });
  const store = await MessageStore.open(dir, { segmentBytes: SEGMENT_BYTES });
  const locked = await runChild(child, [dir, options]);
  t.same(JSON.parse(locked.stdout.trim()).code, 'STORE_LOCKED', `child refused: ${locked.stdout.trim()}`);
  await store.close();
  const free = await runChild(child, [dir, options]);
  t.same(JSON.parse(free.stdout.trim()), { ok: true }, 'after close the child can open it');
});

t.test('closed: every operation on a closed store is STORE_CLOSED', async (t) => {
  const store = await MessageStore.open(tempDir(t), { segmentBytes: SEGMENT_BYTES });
  const r = store.append({ topic: 'c', body: 'x' });
  await store.close();
  t.equal(
    errorCodeSync(() => store.append({ topic: 'c', body: 'y' })),
    'STORE_CLOSED',
    'append',
  );
  t.equal(await errorCode(() => store.put({ topic: 'c', body: 'y' })), 'STORE_CLOSED', 'put');
  t.equal(await errorCode(() => store.flush()), 'STORE_CLOSED', 'flush');
  t.equal(
    errorCodeSync(() => store.get(r.physicalOffset)),
    'STORE_CLOSED',
    'get',
  );
  t.equal(
    errorCodeSync(() => [...store.scan()]),
    'STORE_CLOSED',
    'scan',
  );
  t.equal(
    errorCodeSync(() => store.runRetention()),
    'STORE_CLOSED',
    'runRetention',
  );
  t.equal(await errorCode(() => store.close()), 'NO_ERROR', 'a second close is harmless');
});

t.test('sync flush: a put not durable within syncFlushTimeoutMs is FLUSH_DISK_TIMEOUT', async (t) => {
  // The flush runs on libuv's thread pool. Occupy every pool thread with an open() of a FIFO
  // that has no writer (it blocks in the kernel), so the flush cannot start until we let go.
  const dir = tempDir(t);
  const store = await MessageStore.open(dir, {
    flush: 'sync',
    segmentBytes: SEGMENT_BYTES,
    syncFlushTimeoutMs: 200,
  });
  t.teardown(() => store.close().catch(() => {}));
  const warm = await store.put({ topic: 'timeout', body: 'before' });
  t.ok(warm.size > 0, 'puts resolve while the pool is free');

  const poolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  const fifos: string[] = [];
  const blocked: Promise<unknown>[] = [];
  for (let i = 0; i < poolSize; i++) {
    const fifo = path.join(dir, `fifo-${i}`);
    execFileSync('mkfifo', [fifo]);
    fifos.push(fifo);
    blocked.push(fs.open(fifo, 'r').then((h) => h.close()));
  }
  try {
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    const outcome = await errorCode(() => store.put({ topic: 'timeout', body: 'stuck' }));
    const waitedMs = Date.now() - started;
    t.equal(outcome, 'FLUSH_DISK_TIMEOUT', 'the put is rejected with FLUSH_DISK_TIMEOUT');
    t.ok(waitedMs >= 190 && waitedMs < 3_000, `after about the timeout (${waitedMs} ms)`);
    t.equal(store.stats().readOnly, false, 'a timeout is not a failed flush: the store stays writable');
  } finally {
    // O_RDWR opens of a FIFO never block on Linux and count as a writer: every reader goes free.
    const writers = fifos.map((fifo) => openSync(fifo, fs.constants.O_RDWR));
    await Promise.all(blocked);
    for (const fd of writers) closeSync(fd);
  }
  const after = await store.put({ topic: 'timeout', body: 'after' });
  t.equal(after.queueOffset, 2, 'puts work again once the disk catches up');
  t.equal(store.get(after.physicalOffset - 0)?.body.toString(), 'after');
});

t.test(
  'open: another segment size than the store was created with is INVALID_CONFIG, files untouched',
  async (t) => {
    const dir = tempDir(t);
    const first = await MessageStore.open(dir, {
      segmentBytes: SEGMENT_BYTES,
      maxMessageBytes: MAX_MESSAGE_BYTES,
    });
    await first.put({ topic: 'sizes', body: 'kept' });
    await first.close();
    const segment = path.join(dir, 'commitlog', '00000000000000000000');
    const sizeBefore = (await fs.stat(segment)).size;
    const err = await caught(() =>
      MessageStore.open(dir, { segmentBytes: SEGMENT_BYTES * 4, maxMessageBytes: MAX_MESSAGE_BYTES }),
    );
    t.equal((err as { code?: string }).code, 'INVALID_CONFIG', 'a larger segment size is refused');
    t.match(
      String((err as Error).message),
      new RegExp(`segmentBytes ${SEGMENT_BYTES}`),
      'the message names the size to use',
    );
    t.equal((await fs.stat(segment)).size, sizeBefore, 'the active segment keeps its size');
    const again = await MessageStore.open(dir, {
      segmentBytes: SEGMENT_BYTES,
      maxMessageBytes: MAX_MESSAGE_BYTES,
    });
    t.teardown(() => again.close());
    await again.waitForDispatch();
    t.equal(again.maxOffset('sizes', 0), 1, 'the store opens with its own size and keeps its message');
  },
);
