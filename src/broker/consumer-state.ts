/**
 * ConsumerState: what every subscriber (a consumer group, or group#clientId for broadcasting)
 * has consumed, per (topic, queue). Pure data: every change is a journal record applied by
 * `apply`, the same function at run time and at replay, so the two cannot drift.
 *
 * Per queue:
 * - `next`: every offset below it has been looked at; an offset below `next` that has no entry
 *   is done (acked, dead-lettered, or filtered out by tag).
 * - `entries` (offset order = insertion order, since offsets only grow): messages not done —
 *   `attempt` deliveries so far (0: held back, never delivered: a FIFO group was busy or a
 *   higher priority went first), `visibleAt` (invisible until then), `handle` (the sequence
 *   number of the current receipt handle), the FIFO message group and the priority.
 * The committed consumer offset (RocketMQ's) is the smallest entry offset, or `next`.
 */

import type { GroupConfig } from './group-registry.js';

export interface Entry {
  attempt: number;
  visibleAt: number;
  handle: number;
  group: string | null;
  priority: number | null;
}

export class QueueProgress {
  next: number;
  readonly entries = new Map<number, Entry>();
  constructor(next: number) {
    this.next = next;
  }
  /** RocketMQ's consumer offset: everything below it is done. */
  get committed(): number {
    for (const o of this.entries.keys()) return o;
    return this.next;
  }
}

/** [offset, attempt, handle, messageGroup, priority] */
export type DeliveredTuple = [number, number, number, string | null, number | null];
/**
 * [first offset, count, first handle]: `count` first deliveries (attempt 1, no message group, no
 * priority) of consecutive offsets with consecutive handles — what a plain receive hands out,
 * in one tuple instead of one per message.
 */
export type DeliveredRange = [number, number, number];
/** [offset, messageGroup, priority] */
export type HeldTuple = [number, string | null, number | null];

export type JournalRecord =
  | {
      op: 'pop';
      s: string;
      t: string;
      q: number;
      n: number;
      v: number;
      d: DeliveredTuple[];
      p: HeldTuple[];
      /** A run of first deliveries in one tuple (see DeliveredRange); absent in older records. */
      r?: DeliveredRange;
    }
  | { op: 'ack'; s: string; t: string; q: number; o: number[] }
  | { op: 'vis'; s: string; t: string; q: number; o: number; v: number; h: number }
  | { op: 'reset'; s: string; t: string; q: number; n: number }
  | { op: 'fired'; o: number[] }
  | { op: 'tx'; p: number; r: 'commit' | 'rollback' | 'check'; c?: number }
  | { op: 'group'; g: string; c: GroupConfig | null };

export interface ConsumerStateSnapshot {
  /** subscriber → topic → queueId → [next, entries as [offset, attempt, visibleAt, handle, group, priority]] */
  [subscriber: string]: Record<
    string,
    Record<string, [number, [number, number, number, number, string | null, number | null][]]>
  >;
}

export class ConsumerState {
  private readonly subs = new Map<string, Map<string, QueueProgress[]>>();
  /** Highest receipt handle sequence ever issued. */
  handleSeq = 0;

  get(subscriber: string, topic: string, queueId: number): QueueProgress | undefined {
    return this.subs.get(subscriber)?.get(topic)?.[queueId];
  }

  /** The progress of a queue, created at `start()` when the subscriber has none yet. */
  progress(subscriber: string, topic: string, queueId: number, start: () => number): QueueProgress {
    let topics = this.subs.get(subscriber);
    if (!topics) {
      topics = new Map();
      this.subs.set(subscriber, topics);
    }
    let queues = topics.get(topic);
    if (!queues) {
      queues = [];
      topics.set(topic, queues);
    }
    let qp = queues[queueId];
    if (!qp) {
      qp = new QueueProgress(start());
      queues[queueId] = qp;
    }
    return qp;
  }

  subscribers(): string[] {
    return [...this.subs.keys()];
  }

  /** Topics a subscriber has progress on, each with its queues' progress (indexed by queue id). */
  topicsOf(subscriber: string): ReadonlyMap<string, readonly (QueueProgress | undefined)[]> {
    return this.subs.get(subscriber) ?? new Map();
  }

  /** Apply one journal record (consumer records only; others are ignored). */
  apply(rec: JournalRecord): void {
    switch (rec.op) {
      case 'pop': {
        const qp = this.progress(rec.s, rec.t, rec.q, () => rec.n);
        const fresh: [number, Entry][] = [];
        for (const [o, attempt, handle, group, priority] of rec.d) {
          if (handle > this.handleSeq) this.handleSeq = handle;
          const e = qp.entries.get(o);
          if (e) {
            e.attempt = attempt;
            e.visibleAt = rec.v;
            e.handle = handle;
          } else fresh.push([o, { attempt, visibleAt: rec.v, handle, group, priority }]);
        }
        for (const [o, group, priority] of rec.p) {
          if (!qp.entries.has(o)) fresh.push([o, { attempt: 0, visibleAt: 0, handle: 0, group, priority }]);
        }
        fresh.sort((a, b) => a[0] - b[0]);
        for (const [o, e] of fresh) qp.entries.set(o, e);
        if (rec.r !== undefined) this.applyRange(qp, rec.r, rec.v);
        if (rec.n > qp.next) qp.next = rec.n;
        return;
      }
      case 'ack': {
        const qp = this.get(rec.s, rec.t, rec.q);
        if (qp) for (const o of rec.o) qp.entries.delete(o);
        return;
      }
      case 'vis': {
        if (rec.h > this.handleSeq) this.handleSeq = rec.h;
        const e = this.get(rec.s, rec.t, rec.q)?.entries.get(rec.o);
        if (e) {
          e.visibleAt = rec.v;
          e.handle = rec.h;
        }
        return;
      }
      case 'reset': {
        const qp = this.progress(rec.s, rec.t, rec.q, () => rec.n);
        qp.entries.clear();
        qp.next = rec.n;
        return;
      }
      default:
        return;
    }
  }

  /** A range of first deliveries: offsets past every entry, so appending keeps offset order. */
  private applyRange(qp: QueueProgress, r: DeliveredRange, visibleAt: number): void {
    const [first, count, handle] = r;
    const last = handle + count - 1;
    if (last > this.handleSeq) this.handleSeq = last;
    const entries = qp.entries;
    for (let i = 0; i < count; i++) {
      const o = first + i;
      const e = entries.get(o);
      if (e) {
        e.attempt = 1;
        e.visibleAt = visibleAt;
        e.handle = handle + i;
      } else entries.set(o, { attempt: 1, visibleAt, handle: handle + i, group: null, priority: null });
    }
  }

  snapshot(): ConsumerStateSnapshot {
    const out: ConsumerStateSnapshot = {};
    for (const [s, topics] of this.subs) {
      const ts: ConsumerStateSnapshot[string] = {};
      for (const [t, queues] of topics) {
        const qs: Record<string, [number, [number, number, number, number, string | null, number | null][]]> =
          {};
        queues.forEach((qp, q) => {
          if (!qp) return;
          const es: [number, number, number, number, string | null, number | null][] = [];
          for (const [o, e] of qp.entries)
            es.push([o, e.attempt, e.visibleAt, e.handle, e.group, e.priority]);
          qs[q] = [qp.next, es];
        });
        ts[t] = qs;
      }
      out[s] = ts;
    }
    return out;
  }

  restore(snap: ConsumerStateSnapshot, handleSeq: number): void {
    this.subs.clear();
    this.handleSeq = handleSeq;
    for (const [s, topics] of Object.entries(snap)) {
      for (const [t, queues] of Object.entries(topics)) {
        for (const [q, [next, es]] of Object.entries(queues)) {
          const qp = this.progress(s, t, Number(q), () => next);
          for (const [o, attempt, visibleAt, handle, group, priority] of es) {
            qp.entries.set(o, { attempt, visibleAt, handle, group, priority });
          }
        }
      }
    }
  }
}
