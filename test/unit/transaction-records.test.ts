// Prepared and rolled-back transactional records take no queue offset (RocketMQ writes 0 and does
// not advance the queue), are not dispatched to consume queues, and replay after a crash agrees.
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { MessageStore } from '../../src/index.js';
import { tempDir } from '../helpers/native-env.js';

const PREPARED = 0x4;
const COMMIT = 0x8;
const ROLLBACK = 0xc;
const opts = { segmentBytes: 1 << 20, cqEntriesPerFile: 4096, indexHashSlots: 4096, indexMaxEntries: 8192 };

t.test('transaction records: prepared and rolled-back records take no queue offset', async (t) => {
  const dir = tempDir(t, 'tidemq-tx-');
  let store = await MessageStore.open(dir, opts);
  t.equal(store.append({ topic: 'tx', body: 'a' }).queueOffset, 0);
  t.equal(store.append({ topic: 'tx', body: 'half', sysFlag: PREPARED }).queueOffset, 0);
  t.equal(store.append({ topic: 'tx', body: 'undo', sysFlag: ROLLBACK }).queueOffset, 0);
  t.equal(store.append({ topic: 'tx', body: 'done', sysFlag: COMMIT }).queueOffset, 1);
  t.equal(store.append({ topic: 'tx', body: 'b' }).queueOffset, 2);
  await store.waitForDispatch();
  t.same(
    store.read('tx', 0, 0, 10).map((m) => m.body.toString()),
    ['a', 'done', 'b'],
    'only committed and plain records reach the consume queue',
  );
  await store.flush();
  await store.close();
  // a crash with no queue table snapshot: the table is replayed from the log
  rmSync(path.join(dir, 'config', 'queueOffsets.json'));
  rmSync(path.join(dir, 'checkpoint'));
  writeFileSync(path.join(dir, 'abort'), '1');
  store = await MessageStore.open(dir, opts);
  t.equal(store.append({ topic: 'tx', body: 'c' }).queueOffset, 3, 'replay skips them too');
  await store.waitForDispatch();
  t.same(
    store.read('tx', 0, 0, 10).map((m) => m.body.toString()),
    ['a', 'done', 'b', 'c'],
  );
  await store.close();
});
