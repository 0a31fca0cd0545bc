/**
 * ConsumerState: what every subscriber (a consumer group, or group#clientId for broadcasting)
 * has consumed, per (topic, queue). Pure data: every change is a journal record applied by
 * `apply`, the same function at run time and at replay, so the two cannot drift.
 *
 * Per queue:
 * - `next`: every offset below it has been looked at; an offset below `next` that has no entry
 *   is done (acked, dead-lettered, or filtered out by tag).
 * - the messages not done (offset order; kept as runs, see queue-progress.ts) —
 *   `attempt` deliveries so far (0: held back, never delivered: a FIFO group was busy or a
 *   higher priority went first), `visibleAt` (invisible until then), `handle` (the sequence
 *   number of the current receipt handle), the FIFO message group and the priority.
 * The committed consumer offset (RocketMQ's) is the smallest entry offset, or `next`.
 */

import type { GroupConfig } from './group-registry.js';
import { type Entry, QueueProgress } from './queue-progress.js';

export { type Entry, QueueProgress } from './queue-progress.js';

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
  | {
      op: 'ack';
      s: string;
      t: string;
      q: number;
      /** The offsets acked, one by one (see ackedOffsets for reading either form; `[]` beside `r`)… */
      o?: number[];
      /** … or as runs [first offset, count] (absent in older records; written when shorter). */
      r?: [number, number][];
    }
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
          if (qp.has(o)) qp.update(o, attempt, rec.v, handle);
          else fresh.push([o, { attempt, visibleAt: rec.v, handle, group, priority }]);
        }
        for (const [o, group, priority] of rec.p) {
          if (!qp.has(o)) fresh.push([o, { attempt: 0, visibleAt: 0, handle: 0, group, priority }]);
        }
        if (fresh.length > 0) qp.addEntries(sortedUnique(fresh));
        if (rec.r !== undefined) {
          const [first, count, handle] = rec.r;
          if (handle + count - 1 > this.handleSeq) this.handleSeq = handle + count - 1;
          qp.addRun(first, count, handle, rec.v);
        }
        if (rec.n > qp.next) qp.next = rec.n;
        return;
      }
      case 'ack': {
        const qp = this.get(rec.s, rec.t, rec.q);
        if (!qp) return;
        if (rec.o !== undefined) for (const o of rec.o) qp.delete(o);
        if (rec.r !== undefined) for (const [first, count] of rec.r) qp.deleteRange(first, count);
        return;
      }
      case 'vis': {
        if (rec.h > this.handleSeq) this.handleSeq = rec.h;
        this.get(rec.s, rec.t, rec.q)?.setVisibility(rec.o, rec.v, rec.h);
        return;
      }
      case 'reset': {
        const qp = this.progress(rec.s, rec.t, rec.q, () => rec.n);
        qp.clear();
        qp.next = rec.n;
        return;
      }
      default:
        return;
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
          for (const [o, e] of qp.entries())
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
          this.progress(s, t, Number(q), () => next).restore(es);
        }
      }
    }
  }
}

/** Sorted by offset; of two tuples for one offset the later wins (as Map.set would). */
function sortedUnique(fresh: [number, Entry][]): [number, Entry][] {
  if (fresh.length < 2) return fresh;
  const sorted = fresh.map((x, i) => [x, i] as const).sort((a, b) => a[0][0] - b[0][0] || a[1] - b[1]);
  const out: [number, Entry][] = [];
  for (const [x] of sorted) {
    if (out.length > 0 && out[out.length - 1]![0] === x[0]) out[out.length - 1] = x;
    else out.push(x);
  }
  return out;
}

/** The offsets an ack record names, whichever form it has. */
export function ackedOffsets(rec: { o?: number[]; r?: [number, number][] }): number[] {
  const out = rec.o !== undefined ? [...rec.o] : [];
  if (rec.r !== undefined)
    for (const [first, count] of rec.r) for (let i = 0; i < count; i++) out.push(first + i);
  return out;
}

/**
 * An ack record for `offsets` (of one queue): runs [first, count] when the offsets ascend and
 * that is shorter (a received batch acked in order is one run), else the plain list.
 */
export function ackRecord(
  s: string,
  t: string,
  q: number,
  offsets: number[],
): Extract<JournalRecord, { op: 'ack' }> {
  const runs: [number, number][] = [];
  let prev = -1;
  for (let i = 0; i < offsets.length; i++) {
    const o = offsets[i]!;
    if (o <= prev) return { op: 'ack', s, t, q, o: offsets };
    if (o === prev + 1 && runs.length > 0) runs[runs.length - 1]![1]++;
    else {
      if ((runs.length + 1) * 2 > offsets.length) return { op: 'ack', s, t, q, o: offsets };
      runs.push([o, 1]);
    }
    prev = o;
  }
  // `o: []` too: a reader from before the run form iterates `o` (and then only redelivers)
  return { op: 'ack', s, t, q, o: [], r: runs };
}

/**
 * The offsets of one queue acked together. While they ascend they are kept as runs (a batch
 * acked in order stores nothing per message); an offset out of order switches to a list and a
 * set. `record` is the ack record ackRecord would make of them.
 */
export class AckedOffsets {
  count = 0;
  private readonly runs: [number, number][] = [];
  private max = -1;
  private list: number[] | undefined;
  private set: Set<number> | undefined;

  has(offset: number): boolean {
    if (this.set !== undefined) return this.set.has(offset);
    if (offset > this.max) return false;
    const runs = this.runs;
    let lo = 0;
    let hi = runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const [first, count] = runs[mid]!;
      if (offset < first) hi = mid;
      else if (offset >= first + count) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /** Add an offset not in the set yet. */
  add(offset: number): void {
    this.count++;
    if (this.list === undefined && offset > this.max) {
      const last = this.runs[this.runs.length - 1];
      if (last !== undefined && offset === this.max + 1) last[1]++;
      else this.runs.push([offset, 1]);
      this.max = offset;
      return;
    }
    if (this.list === undefined) {
      this.list = ackedOffsets({ r: this.runs });
      this.set = new Set(this.list);
    }
    this.list.push(offset);
    this.set!.add(offset);
  }

  record(s: string, t: string, q: number): Extract<JournalRecord, { op: 'ack' }> {
    if (this.list !== undefined) return { op: 'ack', s, t, q, o: this.list };
    if (this.runs.length * 2 > this.count) return { op: 'ack', s, t, q, o: ackedOffsets({ r: this.runs }) };
    return { op: 'ack', s, t, q, o: [], r: this.runs };
  }
}
