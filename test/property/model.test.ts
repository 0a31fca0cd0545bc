/**
 * Model-based test (STYLE.md §11): seeded random sequences of append / put / concurrent puts /
 * flush / reopen / get (known and bogus offsets) / scan (random start and limit) over a few
 * topics and queues, with tags, keys, properties, string and binary bodies, checked against a
 * tiny in-memory model after every step. The first disagreement stops the run and is reported
 * with the seed and the step, so `TIDEMQ_SEED=<seed>` replays it exactly.
 *
 * Default: 3 seeds × 300 steps; TIDEMQ_SOAK=1: 10 seeds × 2000 steps.
 */
import t from 'tap';
import { MessageStore } from '../../src/index.js';
import type { AppendResult, Message, StoredMessage, StoreOptions } from '../../src/store/types.js';
import { tempDir } from '../helpers/fs.js';
import { pickSeed, Rng, soak } from '../helpers/rng.js';
import type { TestContext } from '../helpers/tap.js';

const SEGMENT_BYTES = 64 * 1024;
const BLANK_BYTES = 8;
/** A V1 record with IPv4 hosts without topic, body and properties (rocketmq-store-format.md §1). */
const FIXED_RECORD_BYTES = 91;
const TOPICS = ['mA', 'topic_B', 'q%|-x', 'T'.repeat(100)];
const TAGS = ['TagA', 'TagB', 'T-1', 'tag with spaces'];
const TEXT = ['a', 'b', 'z', '0', ' ', 'é', 'ß', '中', '文', '😀', '\n', '"', '\\'];

interface ModelRecord {
  physicalOffset: number;
  size: number;
  topic: string;
  queueId: number;
  queueOffset: number;
  tags: string | undefined;
  keys: string[];
  properties: Record<string, string>;
  body: Buffer;
  bornTimestamp: number | undefined;
  bornAfter: number;
  storeTimestamp: number;
}

class Model {
  records: ModelRecord[] = [];
  byOffset = new Map<number, ModelRecord>();
  nextQueueOffset = new Map<string, number>();
  end = 0;
  /** Positions of BLANK end-of-segment markers: never a record start. */
  blanks: number[] = [];
  lastStoreTimestamp = 0;

  queueKey(topic: string, queueId: number): string {
    return `${topic}\u0000${queueId}`;
  }

  /** Where the next record of `size` bytes must go: here, or the next segment if it does not fit with a BLANK after it. */
  expectedOffset(size: number): number {
    const segmentEnd = this.end - (this.end % SEGMENT_BYTES) + SEGMENT_BYTES;
    return this.end + size + BLANK_BYTES <= segmentEnd ? this.end : segmentEnd;
  }
}

function text(rng: Rng, maxChars: number): string {
  let s = '';
  const n = rng.int(maxChars + 1);
  for (let i = 0; i < n; i++) s += rng.pick(TEXT);
  return s;
}

function word(rng: Rng): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-_.';
  let s = '';
  const n = rng.range(1, 10);
  for (let i = 0; i < n; i++) s += alphabet[rng.int(alphabet.length)];
  return s;
}

function randomMessage(rng: Rng): Message {
  const m: Message = { topic: rng.pick(TOPICS), body: '' };
  if (rng.bool(0.8)) m.queueId = rng.int(4);
  if (rng.bool(0.6)) m.tags = rng.pick(TAGS);
  const keyChoice = rng.int(3);
  if (keyChoice === 1) m.keys = word(rng);
  if (keyChoice === 2) m.keys = Array.from({ length: rng.range(1, 3) }, () => word(rng));
  if (rng.bool(0.5)) {
    const props: Record<string, string> = {};
    for (let i = rng.range(1, 4); i > 0; i--) props[`p.${word(rng)}`] = text(rng, 20);
    m.properties = props;
  }
  if (rng.bool(0.5)) {
    m.body = text(rng, rng.bool(0.1) ? 3000 : 200);
  } else {
    const size = rng.bool(0.1) ? rng.range(2000, 12_000) : rng.int(600);
    m.body = rng.bytes(size);
  }
  if (rng.bool(0.3)) m.bornTimestamp = 1_600_000_000_000 + rng.int(1_000_000_000);
  return m;
}

function storedProperties(m: Message): Record<string, string> {
  const props: Record<string, string> = { ...(m.properties ?? {}) };
  if (m.tags !== undefined) props.TAGS = m.tags;
  const keys = m.keys === undefined ? [] : typeof m.keys === 'string' ? [m.keys] : m.keys;
  if (keys.length > 0) props.KEYS = keys.join(' ');
  return props;
}

function expectedSize(m: Message): number {
  let propertiesBytes = 0;
  for (const [name, value] of Object.entries(storedProperties(m))) {
    propertiesBytes += Buffer.byteLength(name) + 1 + Buffer.byteLength(value) + 1;
  }
  const body = typeof m.body === 'string' ? Buffer.byteLength(m.body) : m.body.length;
  return FIXED_RECORD_BYTES + Buffer.byteLength(m.topic) + body + propertiesBytes;
}

/** Differences between a stored message and its model record ('' if none). */
function compare(got: StoredMessage | undefined, want: ModelRecord): string {
  if (!got) return `record at ${want.physicalOffset} missing`;
  const diffs: string[] = [];
  const eq = (what: string, a: unknown, b: unknown): void => {
    if (JSON.stringify(a) !== JSON.stringify(b))
      diffs.push(`${what}: got ${JSON.stringify(a)}, want ${JSON.stringify(b)}`);
  };
  eq('physicalOffset', got.physicalOffset, want.physicalOffset);
  eq('size', got.size, want.size);
  eq('topic', got.topic, want.topic);
  eq('queueId', got.queueId, want.queueId);
  eq('queueOffset', got.queueOffset, want.queueOffset);
  eq('tags', got.tags, want.tags);
  eq('keys', got.keys, want.keys);
  eq('storeTimestamp', got.storeTimestamp, want.storeTimestamp);
  for (const [name, value] of Object.entries(want.properties))
    eq(`properties[${name}]`, got.properties[name], value);
  if (!want.body.equals(got.body))
    diffs.push(`body differs (${got.body.length} vs ${want.body.length} bytes)`);
  if (want.bornTimestamp !== undefined) eq('bornTimestamp', got.bornTimestamp, want.bornTimestamp);
  else if (got.bornTimestamp < want.bornAfter || got.bornTimestamp > want.storeTimestamp) {
    diffs.push(`bornTimestamp ${got.bornTimestamp} outside [${want.bornAfter}, ${want.storeTimestamp}]`);
  }
  if (
    !/^[0-9A-F]{32}$/i.test(got.msgId) ||
    Number.parseInt(got.msgId.slice(16), 16) !== want.physicalOffset
  ) {
    diffs.push(`msgId ${got.msgId} does not end in the physical offset`);
  }
  return diffs.length ? `record at ${want.physicalOffset}: ${diffs.join('; ')}` : '';
}

async function runSequence(t: TestContext, seed: number, steps: number): Promise<void> {
  const rng = new Rng(seed);
  const dir = tempDir(t, 'tidemq-model-');
  const options: StoreOptions = { segmentBytes: SEGMENT_BYTES, flush: seed % 2 === 0 ? 'sync' : 'async' };
  t.comment(`seed ${seed}: ${steps} steps, ${options.flush} flush (replay with TIDEMQ_SEED=${seed})`);
  let store = await MessageStore.open(dir, options);
  const model = new Model();
  const trace: string[] = [];
  let problem = '';

  const noteAppend = (m: Message, r: AppendResult, bornAfter: number): string => {
    const want = model.expectedOffset(expectedSize(m));
    const queueId = m.queueId ?? 0;
    const qk = model.queueKey(m.topic, queueId);
    const queueOffset = model.nextQueueOffset.get(qk) ?? 0;
    const issues: string[] = [];
    if (r.physicalOffset !== want) issues.push(`physicalOffset ${r.physicalOffset}, want ${want}`);
    if (r.size !== expectedSize(m)) issues.push(`size ${r.size}, want ${expectedSize(m)}`);
    if (r.queueId !== queueId) issues.push(`queueId ${r.queueId}, want ${queueId}`);
    if (r.queueOffset !== queueOffset) issues.push(`queueOffset ${r.queueOffset}, want ${queueOffset}`);
    if (r.storeTimestamp < model.lastStoreTimestamp) issues.push('storeTimestamp went back');
    if (r.physicalOffset !== model.end) model.blanks.push(model.end);
    const record: ModelRecord = {
      physicalOffset: r.physicalOffset,
      size: r.size,
      topic: m.topic,
      queueId,
      queueOffset: r.queueOffset,
      tags: m.tags,
      keys: m.keys === undefined ? [] : typeof m.keys === 'string' ? [m.keys] : [...m.keys],
      properties: storedProperties(m),
      body: Buffer.from(typeof m.body === 'string' ? Buffer.from(m.body) : m.body),
      bornTimestamp: m.bornTimestamp,
      bornAfter,
      storeTimestamp: r.storeTimestamp,
    };
    model.records.push(record);
    model.byOffset.set(record.physicalOffset, record);
    model.nextQueueOffset.set(qk, r.queueOffset + 1);
    model.end = r.physicalOffset + r.size;
    model.lastStoreTimestamp = r.storeTimestamp;
    return issues.length ? `append result: ${issues.join('; ')}` : '';
  };

  const checkAll = (): string => {
    const scanned = [...store.scan()];
    if (scanned.length !== model.records.length) {
      return `full scan: ${scanned.length} records, model has ${model.records.length}`;
    }
    for (let i = 0; i < scanned.length; i++) {
      const diff = compare(scanned[i], model.records[i]!);
      if (diff) return `full scan [${i}]: ${diff}`;
    }
    return '';
  };

  for (let step = 0; step < steps && !problem; step++) {
    const roll = rng.int(100);
    let op: string;
    if (roll < 28) {
      const m = randomMessage(rng);
      op = `append(${m.topic}/${m.queueId ?? 0})`;
      const bornAfter = Date.now();
      problem = noteAppend(m, store.append(m), bornAfter);
    } else if (roll < 40) {
      const m = randomMessage(rng);
      op = `put(${m.topic}/${m.queueId ?? 0})`;
      const bornAfter = Date.now();
      const r = await store.put(m);
      problem = noteAppend(m, r, bornAfter);
      if (!problem && options.flush === 'sync' && store.stats().flushedPosition < r.physicalOffset + r.size) {
        problem = 'a sync put resolved before its record was flushed';
      }
    } else if (roll < 46) {
      const batch = Array.from({ length: rng.range(2, 8) }, () => randomMessage(rng));
      op = `${batch.length} concurrent puts`;
      const bornAfter = Date.now();
      const results = await Promise.all(batch.map((m) => store.put(m)));
      for (let i = 0; i < batch.length && !problem; i++)
        problem = noteAppend(batch[i]!, results[i]!, bornAfter);
    } else if (roll < 50) {
      op = 'flush';
      await store.flush();
      const s = store.stats();
      if (s.flushedPosition !== model.end)
        problem = `after flush, flushedPosition ${s.flushedPosition}, want ${model.end}`;
    } else if (roll < 53) {
      op = 'reopen';
      await store.close();
      store = await MessageStore.open(dir, options);
      if (!store.stats().recovery.cleanShutdown) problem = 'reopen after close is not a clean shutdown';
      else problem = checkAll();
    } else if (roll < 70) {
      if (model.records.length === 0) continue;
      const want = rng.pick(model.records);
      op = `get(${want.physicalOffset})`;
      problem = compare(store.get(want.physicalOffset), want);
    } else if (roll < 80) {
      const candidates = [
        model.end,
        model.end + 1 + rng.int(5000),
        2 ** 40,
        SEGMENT_BYTES * 1000,
        ...model.blanks,
      ];
      if (model.records.length > 0) {
        const r = rng.pick(model.records);
        candidates.push(r.physicalOffset + 1 + rng.int(r.size - 1));
      }
      const offset = rng.pick(candidates);
      op = `get(bogus ${offset})`;
      const got = store.get(offset);
      if (got !== undefined) problem = `get(${offset}) returned a record at a position where none starts`;
    } else if (roll < 95) {
      const from =
        model.records.length > 0 && rng.bool(0.8) ? rng.pick(model.records).physicalOffset : undefined;
      const max = rng.bool(0.7) ? rng.range(1, 20) : undefined;
      op = `scan(${from}, ${max})`;
      const got = [...store.scan(from, max)];
      const start = from === undefined ? 0 : model.records.findIndex((r) => r.physicalOffset === from);
      const want = model.records.slice(start, max === undefined ? undefined : start + max);
      if (got.length !== want.length) problem = `${op}: ${got.length} records, want ${want.length}`;
      for (let i = 0; i < want.length && !problem; i++) problem = compare(got[i], want[i]!);
    } else {
      op = 'stats';
      const s = store.stats();
      if (s.minOffset !== 0) problem = `minOffset ${s.minOffset}, want 0`;
      if (s.readOnly || s.diskFull) problem = 'store unexpectedly read-only or full';
    }
    trace.push(op);
    if (!problem && store.stats().wrotePosition !== model.end) {
      problem = `wrotePosition ${store.stats().wrotePosition}, model end ${model.end}`;
    }
    if (!problem && step % 25 === 24) problem = checkAll();
    if (problem) problem = `step ${step} (${op}): ${problem}; last steps: ${trace.slice(-8).join(', ')}`;
  }
  if (!problem) {
    await store.close();
    store = await MessageStore.open(dir, options);
    problem = checkAll();
    if (problem) problem = `after the final reopen: ${problem}`;
  }
  await store.close();
  t.equal(problem, '', `seed ${seed}: the store agrees with the model (${model.records.length} records)`);
}

const base = pickSeed();
const seeds = soak ? 10 : 3;
const steps = soak ? 2000 : 300;
for (let i = 0; i < seeds; i++) {
  const seed = (base + i) >>> 0;
  t.test(`model: ${steps} random operations agree with the in-memory model (seed ${seed})`, async (t) => {
    await runSequence(t, seed, steps);
  });
}
