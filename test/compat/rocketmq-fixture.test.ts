/**
 * The real RocketMQ 4.x commit log segment (shared/fixtures, written with
 * mappedFileSizeCommitLog=8192) opens in a tidemq store and reads back intact.
 */
import { copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { MessageStore } from '../../src/index.js';
import { native } from '../../src/native.js';
import { segmentName, sharedFixture, tempDir } from '../helpers/fs.js';
import { offsetMsgId, readSegment } from '../helpers/record-reader.js';
import { scanAll } from '../helpers/store.js';

const FIXTURE = 'rocketmq-4x-commitlog-00000000000000000000.bin';
const SEGMENT_BYTES = 8192;
const MESSAGES = 47;
const RECORD_BYTES = 172;
/** Where the fixture's BLANK end-of-segment marker sits. */
const BLANK_AT = MESSAGES * RECORD_BYTES;
const BODY = 'Once, there was a chance for me!';

function storeWithFixture(t: { teardown(fn: () => void): void }): { dir: string; segment: string } {
  const dir = tempDir(t);
  mkdirSync(path.join(dir, 'commitlog'), { recursive: true });
  const segment = path.join(dir, 'commitlog', segmentName(0));
  copyFileSync(sharedFixture(FIXTURE), segment);
  return { dir, segment };
}

t.test('rocketmq fixture: the independent reader sees what the format doc describes', async (t) => {
  // Guards the expectations below: they come from the bytes, not from the store.
  const raw = readSegment(readFileSync(sharedFixture(FIXTURE)));
  t.equal(raw.records.length, MESSAGES);
  t.equal(raw.end, BLANK_AT);
  t.ok(raw.blank, 'ends with a BLANK marker');
  t.ok(raw.records.every((r) => r.totalSize === RECORD_BYTES));
  t.ok(raw.records.every((r) => r.properties['0'] === 'imagoodperson0'));
  t.ok(raw.records.every((r) => r.properties.KEYS === String(r.bornTimestamp)));
});

t.test('rocketmq fixture: scan yields the 47 messages intact and in order', async (t) => {
  const { dir } = storeWithFixture(t);
  const raw = readSegment(readFileSync(sharedFixture(FIXTURE))).records;
  const store = await MessageStore.open(dir, { segmentBytes: SEGMENT_BYTES });
  t.teardown(() => store.close());

  const messages = scanAll(store);
  t.equal(messages.length, MESSAGES, '47 messages, the BLANK marker is not one');
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    const r = raw[i]!;
    const where = `message ${i}`;
    t.equal(m.topic, 'abc', `${where}: topic`);
    t.equal(m.queueId, 0, `${where}: queueId`);
    t.equal(m.queueOffset, i, `${where}: queueOffset`);
    t.equal(m.physicalOffset, i * RECORD_BYTES, `${where}: physicalOffset`);
    t.equal(m.size, RECORD_BYTES, `${where}: size`);
    t.equal(m.tags, 'TAG1', `${where}: tags`);
    t.same(m.keys, [String(r.bornTimestamp)], `${where}: keys`);
    t.equal(m.keys.length > 0 && m.keys[0] !== '', true, `${where}: keys non-empty`);
    t.equal(m.properties['0'], 'imagoodperson0', `${where}: user property "0"`);
    t.equal(m.properties.TAGS, 'TAG1', `${where}: TAGS property`);
    t.equal(m.bornTimestamp, r.bornTimestamp, `${where}: bornTimestamp`);
    t.equal(m.storeTimestamp, r.storeTimestamp, `${where}: storeTimestamp`);
    t.equal(m.reconsumeTimes, 0, `${where}: reconsumeTimes`);
    t.equal(m.flag, 0, `${where}: flag`);
    t.equal(m.sysFlag, 0, `${where}: sysFlag`);
    t.equal(m.body.toString('utf8'), BODY, `${where}: body`);
    t.equal(m.bodyCrc, (native.crc32(m.body, 0, m.body.length) & 0x7fffffff) >>> 0, `${where}: bodyCrc`);
    t.equal(m.msgId.toUpperCase(), offsetMsgId(r.storeHost, r.physicalOffset), `${where}: offset msgId`);
  }
  const stats = store.stats();
  t.equal(stats.minOffset, 0);
  t.equal(stats.segments, 1);
  t.equal(stats.segmentBytes, SEGMENT_BYTES);
});

t.test('rocketmq fixture: get finds every record start and nothing else', async (t) => {
  const { dir } = storeWithFixture(t);
  const store = await MessageStore.open(dir, { segmentBytes: SEGMENT_BYTES });
  t.teardown(() => store.close());
  for (let i = 0; i < MESSAGES; i++) {
    const m = store.get(i * RECORD_BYTES);
    t.equal(m?.queueOffset, i, `record ${i}`);
    t.equal(m?.body.toString(), BODY);
  }
  for (const bogus of [1, RECORD_BYTES - 1, RECORD_BYTES + 84, BLANK_AT, BLANK_AT + 8, SEGMENT_BYTES - 1]) {
    t.equal(store.get(bogus), undefined, `offset ${bogus} is not a record start`);
  }
  t.same(
    scanAll(store, 10 * RECORD_BYTES).map((m) => m.queueOffset),
    Array.from({ length: MESSAGES - 10 }, (_, i) => 10 + i),
    'scan from a record start',
  );
  t.same(
    [...store.scan(20 * RECORD_BYTES, 3)].map((m) => m.queueOffset),
    [20, 21, 22],
    'scan with a limit',
  );
});

t.test('rocketmq fixture: the next append rolls to the next segment and survives reopen', async (t) => {
  const { dir, segment } = storeWithFixture(t);
  const original = readFileSync(sharedFixture(FIXTURE));
  let store = await MessageStore.open(dir, { segmentBytes: SEGMENT_BYTES });
  const r = store.append({ topic: 'abc', body: 'after the fixture', tags: 'TAG2', keys: 'k-new' });
  t.equal(r.physicalOffset, SEGMENT_BYTES, 'the fixture segment is full (BLANK): next segment');
  t.equal(r.queueId, 0);
  t.equal(r.queueOffset, MESSAGES, 'queue offsets continue after the fixture');
  const other = store.append({ topic: 'other', body: 'x' });
  t.equal(other.queueOffset, 0, 'another topic starts at 0');
  await store.close();

  t.same(
    readFileSync(segment).subarray(0, BLANK_AT + 8),
    original.subarray(0, BLANK_AT + 8),
    'the RocketMQ records and BLANK marker are left byte for byte',
  );
  t.equal(statSync(path.join(dir, 'commitlog', segmentName(SEGMENT_BYTES))).size, SEGMENT_BYTES);

  store = await MessageStore.open(dir, { segmentBytes: SEGMENT_BYTES });
  t.teardown(() => store.close());
  const all = scanAll(store);
  t.equal(all.length, MESSAGES + 2);
  t.same(
    all.map((m) => m.queueOffset),
    [...Array.from({ length: MESSAGES }, (_, i) => i), MESSAGES, 0],
  );
  const back = store.get(SEGMENT_BYTES);
  t.equal(back?.body.toString(), 'after the fixture');
  t.equal(back?.tags, 'TAG2');
  t.same(back?.keys, ['k-new']);
  t.equal(store.get(0)?.body.toString(), BODY, 'the fixture is still readable');
  const next = store.append({ topic: 'abc', body: 'third' });
  t.equal(next.queueOffset, MESSAGES + 1, 'queue offsets continue after reopen');
  t.equal(next.physicalOffset, SEGMENT_BYTES + r.size + other.size);
});
