// Model-based test of dispatch: random appends across topics and queues with tags and keys,
// interleaved with reads by queue, by key and by time, offsets, and reopens. After each
// waitForDispatch() every answer must agree with an in-memory model (test/helpers/store-env.ts).
import t, { type Test } from 'tap';
import { MessageStore } from '../../src/store/message-store.js';
import type { StoredRecord } from '../../src/store/record-codec.js';
import type { Message } from '../../src/store/types.js';
import { tempDir } from '../helpers/native-env.js';
import { describe, type ModelRecord, Rng, SMALL, StoreModel, soak } from '../helpers/store-env.js';

const UNIQ = 'UNIQ_KEY'; // RocketMQ's PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX
const TOPICS: { topic: string; queues: number }[] = [
  { topic: 'orders', queues: 4 },
  { topic: 'payments', queues: 2 },
  { topic: 'audit-log', queues: 1 },
  { topic: 'T_x%1', queues: 3 },
];
// "Aa" and "BB" have the same Java hashCode (2112); so do "AaAa" and "BBBB".
// (non-ASCII names too: the dispatcher hashes tags and keys from their UTF-8 bytes)
const TAGS: (string | undefined)[] = ['Aa', 'BB', 'a', 'b', 'TAG1', 'café', '订单', undefined];
const FILTERS: (string | undefined)[] = [
  undefined,
  '*',
  'Aa',
  'BB',
  'Aa||BB',
  'a||b',
  'TAG1 || a',
  'zzz',
  'café||订单',
];
const KEYS = [
  ...Array.from({ length: 40 }, (_, i) => `k${i}`),
  'Aa',
  'BB',
  'AaAa',
  'BBBB',
  'clé',
  'ключ',
  'x💡y',
];

type Tap = Test;

function sameRecords(t: Tap, got: StoredRecord[], want: ModelRecord[], what: string): boolean {
  const g = got.map((r) => `${describe(r)} body ${r.body.toString()}`);
  const w = want.map((r) => `${describe(r)} body ${r.body}`);
  if (g.length === w.length && g.every((x, i) => x === w[i])) return true;
  t.same(g, w, what);
  return false;
}

class Run {
  readonly model = new StoreModel();
  store!: MessageStore;
  private seq = 0;
  checks = 0;
  failures = 0;

  constructor(
    private readonly t: Tap,
    private readonly rng: Rng,
    readonly dir: string,
    private readonly options: Parameters<typeof MessageStore.open>[1],
  ) {}

  async open(): Promise<void> {
    this.store = await MessageStore.open(this.dir, this.options);
  }

  private target(): { topic: string; queueId: number } {
    // One hot queue gets ~40% of the traffic, so its consume queue files roll.
    if (this.rng.chance(0.4)) return { topic: 'orders', queueId: 1 };
    const { topic, queues } = this.rng.pick(TOPICS);
    return { topic, queueId: this.rng.int(queues) };
  }

  async appendBatch(): Promise<void> {
    const n = 1 + this.rng.int(60);
    for (let i = 0; i < n; i++) {
      const { topic, queueId } = this.target();
      const tags = this.rng.pick(TAGS);
      const nKeys = this.rng.chance(0.4) ? 0 : this.rng.chance(0.7) ? 1 : 2 + this.rng.int(2);
      const keys = [...new Set(Array.from({ length: nKeys }, () => this.rng.pick(KEYS)))];
      const uniqKey = this.rng.chance(0.1) ? `u${this.seq}` : undefined;
      const body = `m${this.seq++}-${'x'.repeat(this.rng.int(200))}`;
      const msg: Message = { topic, queueId, body };
      if (tags !== undefined) msg.tags = tags;
      if (keys.length === 1 && this.rng.chance(0.5)) msg.keys = keys[0]!;
      else if (keys.length > 0) msg.keys = keys;
      if (uniqKey !== undefined) msg.properties = { [UNIQ]: uniqKey };
      const useput = this.rng.chance(0.2);
      const r = useput ? await this.store.put(msg) : this.store.append(msg);
      this.model.add({
        topic,
        queueId,
        queueOffset: r.queueOffset,
        physicalOffset: r.physicalOffset,
        storeTimestamp: r.storeTimestamp,
        tags,
        keys,
        uniqKey,
        body,
      });
    }
  }

  private ok(cond: boolean, what: string, extra?: unknown): void {
    this.checks++;
    if (!cond) {
      this.failures++;
      this.t.fail(what, extra === undefined ? {} : { found: extra });
    }
  }

  checkRead(topic: string, queueId: number, offset: number, max: number, tags: string | undefined): void {
    const got = this.store.read(topic, queueId, offset, max, tags === undefined ? {} : { tags });
    const want = this.model.read(topic, queueId, offset, max, tags);
    const what = `read(${topic}, ${queueId}, ${offset}, ${max}, ${tags ?? 'no filter'})`;
    this.checks++;
    if (!sameRecords(this.t, got, want.records, what)) this.failures++;
    this.ok(got.nextQueueOffset === want.next, `${what}: nextQueueOffset ${want.next}`, got.nextQueueOffset);
  }

  checkQuery(topic: string, key: string, max: number | undefined, beginMs?: number, endMs?: number): void {
    const options: { maxMessages?: number; beginMs?: number; endMs?: number } = {};
    if (max !== undefined) options.maxMessages = max;
    if (beginMs !== undefined) options.beginMs = beginMs;
    if (endMs !== undefined) options.endMs = endMs;
    const got = this.store.queryByKey(topic, key, options);
    const want = this.model.queryByKey(topic, key, Math.min(max ?? 32, 64), beginMs, endMs);
    this.checks++;
    if (!sameRecords(this.t, got, want, `queryByKey(${topic}, ${key}, ${JSON.stringify(options)})`)) {
      this.failures++;
    }
  }

  checkTime(topic: string, queueId: number, ms: number): void {
    const got = this.store.offsetForTimestamp(topic, queueId, ms);
    const want = this.model.offsetForTimestamp(topic, queueId, ms);
    this.ok(got === want, `offsetForTimestamp(${topic}, ${queueId}, ${ms}) = ${want}`, got);
  }

  checkOffsets(topic: string, queueId: number): void {
    const len = this.model.queue(topic, queueId).length;
    this.ok(this.store.minOffset(topic, queueId) === 0, `minOffset(${topic}, ${queueId}) = 0`);
    const max = this.store.maxOffset(topic, queueId);
    this.ok(max === len, `maxOffset(${topic}, ${queueId}) = ${len}`, max);
  }

  /** A few random questions, each checked against the model. */
  randomChecks(count: number): void {
    const log = this.model.log;
    for (let i = 0; i < count; i++) {
      const { topic, queues } = this.rng.pick(TOPICS);
      const queueId = this.rng.int(queues + 1); // sometimes a queue that never got a message
      const len = this.model.queue(topic, queueId).length;
      switch (this.rng.int(4)) {
        case 0: {
          const offset = this.rng.int(len + 4);
          const max = this.rng.pick([1, 3, 32, 1000]);
          this.checkRead(topic, queueId, offset, max, this.rng.pick(FILTERS));
          break;
        }
        case 1: {
          const max = this.rng.pick([undefined, 1, 3, 64, 100]);
          if (log.length > 0 && this.rng.chance(0.3)) {
            const a = this.rng.pick(log).storeTimestamp;
            const b = this.rng.pick(log).storeTimestamp;
            this.checkQuery(topic, this.rng.pick(KEYS), max, Math.min(a, b), Math.max(a, b));
          } else {
            this.checkQuery(topic, this.rng.pick(KEYS), max);
          }
          break;
        }
        case 2: {
          const ms =
            log.length === 0 || this.rng.chance(0.1)
              ? this.rng.pick([0, Date.now() + 60_000])
              : this.rng.pick(log).storeTimestamp + this.rng.int(3) - 1;
          this.checkTime(topic, queueId, ms);
          break;
        }
        default:
          this.checkOffsets(topic, queueId);
      }
    }
  }

  /** Everything: every queue in full and in pages, every key, topics and queues. */
  fullCheck(label: string): void {
    const before = this.failures;
    const topics = this.model.topics();
    this.ok(
      JSON.stringify(this.store.topics()) === JSON.stringify(topics),
      `${label}: topics()`,
      this.store.topics(),
    );
    for (const { topic, queues } of TOPICS) {
      const ids = this.model.queueIds(topic);
      const got = this.store.queues(topic);
      this.ok(JSON.stringify(got) === JSON.stringify(ids), `${label}: queues(${topic})`, got);
      for (let q = 0; q <= queues; q++) {
        this.checkOffsets(topic, q);
        this.checkRead(topic, q, 0, 1_000_000, undefined);
        for (const f of ['Aa', 'BB', 'Aa||BB']) this.checkRead(topic, q, 0, 1_000_000, f);
      }
      for (const key of KEYS) this.checkQuery(topic, key, 64);
      for (const r of this.model.log) if (r.uniqKey !== undefined) this.checkQuery(r.topic, r.uniqKey, 64);
    }
    this.t.comment(
      `${label}: ${this.model.log.length} messages checked (${this.failures - before} failures)`,
    );
  }
}

async function runModel(t: Tap, label: string, dispatchWorkers: number): Promise<void> {
  const rng = new Rng(t, label);
  const dir = tempDir(t, 'tidemq-model-');
  // Smaller consume queue and index files than SMALL, so both roll within the default run.
  const run = new Run(t, rng, dir, {
    ...SMALL,
    cqEntriesPerFile: 1024,
    indexMaxEntries: 2048,
    dispatchWorkers,
  });
  await run.open();
  t.teardown(() => run.store.close());
  const steps = soak ? 3000 : 120;
  let reopens = 0;
  for (let step = 0; step < steps && run.failures === 0; step++) {
    const action = rng.float();
    if (action < 0.75) {
      await run.appendBatch();
      await run.store.waitForDispatch();
      run.randomChecks(4);
    } else if (action < 0.97) {
      run.randomChecks(8);
    } else {
      await run.store.close();
      await run.open();
      reopens++;
      run.randomChecks(8);
    }
  }
  await run.store.waitForDispatch();
  run.fullCheck('before reopen');
  await run.store.close();
  await run.open();
  await run.store.waitForDispatch();
  run.fullCheck('after reopen');
  const hot = run.model.queue('orders', 1).length;
  t.comment(
    `${label}: ${run.model.log.length} messages, hot queue ${hot}, ${reopens} reopens, ${run.checks} checks`,
  );
  t.equal(run.failures, 0, `${label}: every answer agrees with the model (seed ${rng.seed})`);
  t.equal(
    run.store.stats().dispatchWorkers,
    dispatchWorkers,
    `${label}: ran on ${dispatchWorkers} worker(s)`,
  );
}

t.test('dispatch model: reads, key and time queries agree with the model (one worker)', (t) =>
  runModel(t, 'one worker', 1),
);

t.test('dispatch model: reads, key and time queries agree with the model (two workers)', (t) =>
  runModel(t, 'two workers', 2),
);
