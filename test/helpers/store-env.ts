// Shared by the store tests: small file geometry (fast, light on disk, and it makes consume queue
// files and index files roll), a seeded random source, and an in-memory model of what a store
// holds that read(), queryByKey(), offsetForTimestamp() and the offsets are checked against.
import type { StoreOptions } from '../../src/store/types.js';
import { seededRandom, testSeed } from './native-env.js';

/** 1 MiB segments, 4096-entry consume queue files, 8192-entry index files. */
export const SMALL: StoreOptions = {
  segmentBytes: 1 << 20,
  cqEntriesPerFile: 4096,
  indexHashSlots: 4096,
  indexMaxEntries: 8192,
};

/** TIDEMQ_SOAK=1 runs the longer loops. */
export const soak = process.env.TIDEMQ_SOAK === '1';

interface Commenter {
  comment(...args: unknown[]): void;
}

/** A seeded PRNG with helpers; the seed (TIDEMQ_SEED or a fresh one) is printed at once. */
export class Rng {
  readonly seed: number;
  private readonly next: () => number;

  constructor(t: Commenter, label: string, seed = testSeed()) {
    this.seed = seed;
    this.next = seededRandom(seed);
    t.comment(`${label}: seed ${seed} (replay with TIDEMQ_SEED=${seed})`);
  }

  float(): number {
    return this.next();
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** What the model remembers of one appended message. */
export interface ModelRecord {
  topic: string;
  queueId: number;
  queueOffset: number;
  physicalOffset: number;
  storeTimestamp: number;
  tags: string | undefined;
  keys: string[];
  /** The UNIQ_CLIENT_MESSAGE_ID_KEYIDX property, indexed like a key. */
  uniqKey?: string | undefined;
  body: string;
}

/** The expected contents of a store: every message, by queue and in commit log order. */
export class StoreModel {
  readonly log: ModelRecord[] = [];
  private readonly queues = new Map<string, ModelRecord[]>();

  private static key(topic: string, queueId: number): string {
    return `${topic}\u0000${queueId}`;
  }

  add(r: ModelRecord): void {
    const k = StoreModel.key(r.topic, r.queueId);
    let q = this.queues.get(k);
    if (!q) {
      q = [];
      this.queues.set(k, q);
    }
    if (r.queueOffset !== q.length) {
      throw new Error(`model: ${r.topic}/${r.queueId} got offset ${r.queueOffset}, expected ${q.length}`);
    }
    q.push(r);
    this.log.push(r);
  }

  queue(topic: string, queueId: number): ModelRecord[] {
    return this.queues.get(StoreModel.key(topic, queueId)) ?? [];
  }

  topics(): string[] {
    return [...new Set(this.log.map((r) => r.topic))].sort();
  }

  queueIds(topic: string): number[] {
    return [...new Set(this.log.filter((r) => r.topic === topic).map((r) => r.queueId))].sort(
      (a, b) => a - b,
    );
  }

  /** read(): matching records from `offset`, at most `max`, and where to go on. */
  read(
    topic: string,
    queueId: number,
    offset: number,
    max: number,
    tags: string | undefined,
  ): { records: ModelRecord[]; next: number } {
    const q = this.queue(topic, queueId);
    const wanted =
      tags === undefined || tags.trim() === '*'
        ? undefined
        : new Set(
            tags
              .split('||')
              .map((s) => s.trim())
              .filter((s) => s.length > 0),
          );
    const records: ModelRecord[] = [];
    let next = offset;
    while (next < q.length && records.length < max) {
      const r = q[next]!;
      next++;
      if (wanted && !wanted.has(r.tags ?? '')) continue;
      records.push(r);
    }
    return { records, next };
  }

  /** queryByKey(): records of `topic` with `key` among their KEYS in [beginMs, endMs], newest first. */
  queryByKey(
    topic: string,
    key: string,
    max: number,
    beginMs = 0,
    endMs = Number.MAX_SAFE_INTEGER,
  ): ModelRecord[] {
    const out: ModelRecord[] = [];
    for (let i = this.log.length - 1; i >= 0 && out.length < max; i--) {
      const r = this.log[i]!;
      if (r.topic !== topic || !(r.keys.includes(key) || r.uniqKey === key)) continue;
      if (r.storeTimestamp < beginMs || r.storeTimestamp > endMs) continue;
      out.push(r);
    }
    return out;
  }

  /** offsetForTimestamp(): first offset stored at or after `ms`, else the queue length. */
  offsetForTimestamp(topic: string, queueId: number, ms: number): number {
    const q = this.queue(topic, queueId);
    const i = q.findIndex((r) => r.storeTimestamp >= ms);
    return i < 0 ? q.length : i;
  }
}

/** The fields a test compares between a stored record and the model. */
export function describe(r: {
  topic: string;
  queueId: number;
  queueOffset: number;
  physicalOffset: number;
  tags: string | undefined;
}): string {
  return `${r.topic}/${r.queueId}@${r.queueOffset} phys ${r.physicalOffset} tags ${r.tags ?? '-'}`;
}
