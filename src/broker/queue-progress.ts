/**
 * QueueProgress: one subscriber's progress on one (topic, queue) — `next` and the messages not
 * done yet (see consumer-state.ts for what they mean).
 *
 * The messages not done are kept as runs, not one object per message: a receive hands out a
 * batch of consecutive offsets, all first deliveries with one visibleAt and consecutive receipt
 * handles, and an ack usually finishes the whole batch. A run is [first, first + count) with one
 * flag byte per offset:
 * - UNIFORM: in flight with the run's shared state (attempt 1, run.visibleAt, run.handle + i, no
 *   message group, no priority) — nothing allocated per message;
 * - OWN: the message has its own Entry in run.own (a redelivery, a changed visibility, a held
 *   message, a message group or a priority: anything that diverges from the shared state);
 * - DONE: acked, dead-lettered, filtered out, or never part of the batch (a gap).
 * Runs are disjoint and sorted by offset (offsets only grow), so iterating runs and flags is
 * offset order. A run whose messages are all done is dropped once it reaches the head, or in a
 * sweep when dead runs are many.
 */

export interface Entry {
  attempt: number;
  visibleAt: number;
  handle: number;
  group: string | null;
  priority: number | null;
}

export const UNIFORM = 0;
export const DONE = 1;
export const OWN = 2;

/** Widest gap between two offsets of one run made of messages with their own entries. */
const MAX_GAP = 256;
/** Dead runs tolerated behind a live head before a sweep drops them. */
const SWEEP_DEAD_RUNS = 64;

export class Run {
  /** Messages not done. */
  live: number;
  /** Messages with an Entry in `own`. */
  owned = 0;
  readonly flags: Uint8Array;
  own: Map<number, Entry> | undefined;

  constructor(
    readonly first: number,
    readonly count: number,
    /** Shared state of the UNIFORM messages: invisible until then … */
    readonly visibleAt: number,
    /** … and the handle of offset `first` (offset first + i has handle + i). */
    readonly handle: number,
    live: number,
    fill: number,
  ) {
    this.live = live;
    this.flags = new Uint8Array(count);
    if (fill !== 0) this.flags.fill(fill);
  }

  /** The message at `offset` (inside the run) as an Entry, or undefined when done. */
  entry(offset: number): Entry | undefined {
    const f = this.flags[offset - this.first];
    if (f === DONE) return undefined;
    if (f === OWN) return this.own!.get(offset);
    return {
      attempt: 1,
      visibleAt: this.visibleAt,
      handle: this.handle + offset - this.first,
      group: null,
      priority: null,
    };
  }

  /** Give the message at `offset` its own Entry (it diverges from the shared state). */
  own1(offset: number): Entry {
    const i = offset - this.first;
    if (this.flags[i] === OWN) return this.own!.get(offset)!;
    const e: Entry = {
      attempt: 1,
      visibleAt: this.visibleAt,
      handle: this.handle + i,
      group: null,
      priority: null,
    };
    this.setOwn(offset, e);
    return e;
  }

  setOwn(offset: number, e: Entry): void {
    this.flags[offset - this.first] = OWN;
    if (this.own === undefined) this.own = new Map();
    this.own.set(offset, e);
    this.owned++;
  }
}

export class QueueProgress {
  next: number;
  /** Messages not done. */
  size = 0;
  /** Sorted by first offset; runs[0 .. head) are dead and about to be dropped. */
  private runs: Run[] = [];
  private head = 0;
  private deadRuns = 0;
  /** Index of the run the last lookup found (acks come in offset order). */
  private hint = 0;

  constructor(next: number) {
    this.next = next;
  }

  /** RocketMQ's consumer offset: everything below it is done. */
  get committed(): number {
    for (let r = this.head; r < this.runs.length; r++) {
      const run = this.runs[r]!;
      if (run.live === 0) continue;
      const flags = run.flags;
      for (let i = 0; i < run.count; i++) if (flags[i] !== DONE) return run.first + i;
    }
    return this.next;
  }

  /** The runs holding live messages, in offset order (callers skip runs with live === 0). */
  liveRuns(): readonly Run[] {
    if (this.head > 0) this.compact();
    return this.runs;
  }

  /** The run that covers `offset`, or undefined. */
  find(offset: number): Run | undefined {
    const runs = this.runs;
    const h = this.hint >= this.head ? runs[this.hint] : undefined;
    if (h !== undefined && offset >= h.first && offset < h.first + h.count) return h;
    let lo = this.head;
    let hi = runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const r = runs[mid]!;
      if (offset < r.first) hi = mid;
      else if (offset >= r.first + r.count) lo = mid + 1;
      else {
        this.hint = mid;
        return r;
      }
    }
    return undefined;
  }

  /** The message at `offset` as an Entry (a copy for UNIFORM ones), or undefined when done. */
  get(offset: number): Entry | undefined {
    return this.find(offset)?.entry(offset);
  }

  has(offset: number): boolean {
    const run = this.find(offset);
    return run !== undefined && run.flags[offset - run.first] !== DONE;
  }

  /** The receipt handle sequence of the delivery in flight at `offset`; -1 if none (done or held). */
  deliveredHandle(offset: number): number {
    const run = this.find(offset);
    if (run === undefined) return -1;
    const f = run.flags[offset - run.first];
    if (f === UNIFORM) return run.handle + offset - run.first;
    if (f === DONE) return -1;
    const e = run.own!.get(offset)!;
    return e.attempt === 0 ? -1 : e.handle;
  }

  /** `count` first deliveries of consecutive offsets from `first`, handles from `handle`. */
  addRun(first: number, count: number, handle: number, visibleAt: number): void {
    if (count <= 0) return;
    if (this.canAppend(first)) {
      this.push(new Run(first, count, visibleAt, handle, count, UNIFORM));
      this.size += count;
      return;
    }
    // Below or among existing runs (not what the broker writes): message by message.
    for (let i = 0; i < count; i++) {
      const o = first + i;
      const e = this.get(o);
      if (e !== undefined) this.update(o, 1, visibleAt, handle + i);
      else this.insert(o, { attempt: 1, visibleAt, handle: handle + i, group: null, priority: null });
    }
  }

  /**
   * New messages (none of them present), sorted by offset, each with its own Entry: one run per
   * stretch without a gap wider than MAX_GAP (done flags fill the gaps), so a run's flags stay
   * small however far apart the offsets are.
   */
  addEntries(fresh: readonly (readonly [number, Entry])[]): void {
    let from = 0;
    while (from < fresh.length) {
      let to = from + 1;
      while (to < fresh.length && fresh[to]![0] - fresh[to - 1]![0] <= MAX_GAP) to++;
      this.addStretch(fresh, from, to);
      from = to;
    }
  }

  private addStretch(fresh: readonly (readonly [number, Entry])[], from: number, to: number): void {
    const first = fresh[from]![0];
    if (!this.canAppend(first)) {
      for (let i = from; i < to; i++) this.insert(fresh[i]![0], fresh[i]![1]);
      return;
    }
    const run = new Run(first, fresh[to - 1]![0] - first + 1, 0, 0, 0, DONE);
    for (let i = from; i < to; i++) {
      run.setOwn(fresh[i]![0], fresh[i]![1]);
      run.live++;
    }
    this.size += run.live;
    this.push(run);
  }

  /** A new delivery (or held state) of a message present at `offset`. */
  update(offset: number, attempt: number, visibleAt: number, handle: number): void {
    const run = this.find(offset);
    if (run === undefined || run.flags[offset - run.first] === DONE) return;
    const e = run.own1(offset);
    e.attempt = attempt;
    e.visibleAt = visibleAt;
    e.handle = handle;
  }

  /** A new visibility and handle of a message present at `offset` (attempt unchanged). */
  setVisibility(offset: number, visibleAt: number, handle: number): void {
    const run = this.find(offset);
    if (run === undefined || run.flags[offset - run.first] === DONE) return;
    const e = run.own1(offset);
    e.visibleAt = visibleAt;
    e.handle = handle;
  }

  /** The message at `offset` is done. */
  delete(offset: number): void {
    const run = this.find(offset);
    if (run !== undefined) this.done(run, offset - run.first);
  }

  /** Offsets [first, first + count) are done. */
  deleteRange(first: number, count: number): void {
    const end = first + count;
    let o = first;
    while (o < end) {
      const run = this.find(o);
      if (run === undefined) {
        o++;
        continue;
      }
      // one pass over the run's flags, the counts settled once
      const stop = Math.min(end, run.first + run.count);
      const flags = run.flags;
      let removed = 0;
      for (; o < stop; o++) {
        const i = o - run.first;
        const f = flags[i];
        if (f === DONE) continue;
        flags[i] = DONE;
        if (f === OWN) {
          run.own!.delete(o);
          run.owned--;
        }
        removed++;
      }
      if (removed > 0) this.settle(run, removed);
    }
  }

  /**
   * Load snapshot entries ([offset, attempt, visibleAt, handle, group, priority], offset
   * order): sequences that a plain receive would have made become runs again.
   */
  restore(es: readonly (readonly [number, number, number, number, string | null, number | null])[]): void {
    const list = [...es].sort((a, b) => a[0] - b[0]);
    let own: [number, Entry][] = [];
    let i = 0;
    while (i < list.length) {
      const [o, attempt, visibleAt, handle, group, priority] = list[i]!;
      let j = i + 1;
      if (attempt === 1 && group === null && priority === null) {
        while (j < list.length) {
          const x = list[j]!;
          const k = j - i;
          if (x[0] !== o + k || x[1] !== 1 || x[2] !== visibleAt || x[3] !== handle + k) break;
          if (x[4] !== null || x[5] !== null) break;
          j++;
        }
      }
      if (j - i > 1) {
        this.addEntries(own);
        own = [];
        this.addRun(o, j - i, handle, visibleAt);
      } else own.push([o, { attempt, visibleAt, handle, group, priority }]);
      i = j;
    }
    this.addEntries(own);
  }

  clear(): void {
    this.runs = [];
    this.head = 0;
    this.deadRuns = 0;
    this.hint = 0;
    this.size = 0;
  }

  /** Every message not done, in offset order (snapshots, lag reports, tests: not the hot path). */
  *entries(): Generator<[number, Entry]> {
    for (let r = this.head; r < this.runs.length; r++) {
      const run = this.runs[r]!;
      if (run.live === 0) continue;
      for (let i = 0; i < run.count; i++) {
        const e = run.flags[i] === DONE ? undefined : run.entry(run.first + i);
        if (e !== undefined) yield [run.first + i, e];
      }
    }
  }

  private done(run: Run, i: number): void {
    const f = run.flags[i];
    if (f === DONE) return;
    run.flags[i] = DONE;
    if (f === OWN) {
      run.own!.delete(run.first + i);
      run.owned--;
    }
    this.settle(run, 1);
  }

  /** `removed` messages of `run` just became done. */
  private settle(run: Run, removed: number): void {
    this.size -= removed;
    run.live -= removed;
    if (run.live === 0) {
      run.own = undefined;
      this.deadRuns++;
      if (this.runs[this.head] === run || this.deadRuns >= SWEEP_DEAD_RUNS) this.compact();
    }
  }

  /** Drop dead runs: at the head always, elsewhere once there are many. */
  private compact(): void {
    const runs = this.runs;
    let h = this.head;
    while (h < runs.length && runs[h]!.live === 0) {
      h++;
      this.deadRuns--;
    }
    this.head = h;
    if (this.deadRuns >= SWEEP_DEAD_RUNS && this.deadRuns * 2 > runs.length - h) {
      this.runs = runs.filter((r) => r.live > 0);
      this.head = 0;
      this.deadRuns = 0;
      this.hint = 0;
    } else if (h > 32 && h * 2 > runs.length) {
      runs.splice(0, h);
      this.head = 0;
      this.hint = 0;
    }
  }

  private canAppend(first: number): boolean {
    const last = this.runs[this.runs.length - 1];
    return last === undefined || first >= last.first + last.count;
  }

  private push(run: Run): void {
    this.runs.push(run);
  }

  /** One message below or among the runs: its own run of one, spliced in offset order. */
  private insert(offset: number, e: Entry): void {
    const existing = this.find(offset);
    if (existing !== undefined) {
      const i = offset - existing.first;
      if (existing.flags[i] !== DONE) {
        const own = existing.own1(offset);
        Object.assign(own, e);
        return;
      }
      existing.setOwn(offset, e);
      existing.live++;
      this.size++;
      if (existing.live === 1) this.deadRuns--;
      return;
    }
    const run = new Run(offset, 1, 0, 0, 1, DONE);
    run.setOwn(offset, e);
    let at = this.runs.length;
    while (at > this.head && this.runs[at - 1]!.first > offset) at--;
    this.runs.splice(at, 0, run);
    this.hint = 0;
    this.size++;
  }
}
