/**
 * Dispatcher (main thread side): feeds newly durable commit log ranges to the dispatch workers
 * and wakes readers when their queues advance.
 *
 * Partitions → workers: a (topic, queueId) belongs to worker `(hash(topic)·31 + queueId) mod N`
 * (dispatch-worker.ts ownerOf). The mapping is stable for a run and needs no coordination, so each
 * consume queue has exactly one writer; worker 0 also owns the key index (an IndexFile is one
 * chain of entries and cannot take two writers). Each worker is its own one-thread Piscina pool
 * with at most one dispatch task and one maintenance task (flush or retention) in flight. Both
 * run on the worker's one thread, and a dispatch is synchronous, so they can only interleave where
 * a flush awaits an msync: a dispatch may then append entries, which the msync may or may not
 * include and the next flush covers (flush reports only the offset dispatched before it began).
 * Without that, the per-second flush (tens of ms of msync for the key index under load) held
 * every dispatch back and was the whole latency tail of a consumer.
 *
 * Every worker walks every record of a range (parsing a header costs far less than a message per
 * record across threads) and writes only its own partitions. Progress comes back as the task's
 * result (the dispatched offset) and as shared per-queue counts (shared-progress.ts).
 *
 * What is dispatched: up to the sealed offset in async mode (a record that survives a process
 * crash) and up to the flushed offset in sync mode, so a consumer never sees a message that a
 * crash could take back.
 */
import { Piscina } from 'piscina';
import type { CommitLog } from './commit-log.js';
import type { DispatchRange, DispatchResult, WorkerTask } from './dispatch-worker.js';
import type { IndexGeometry } from './index-file.js';
import { SharedProgress } from './shared-progress.js';

const MAX_TASK_BYTES = 32 * 1024 * 1024;

interface Waiter {
  topic: string;
  queueId: number;
  offset: number;
  resolve: (ok: boolean) => void;
  timer: NodeJS.Timeout | undefined;
}

export interface DispatcherOptions {
  storeDir: string;
  log: CommitLog;
  workers: number;
  from: number;
  cqEntriesPerFile: number;
  indexGeometry: IndexGeometry;
  slots: { topic: string; queueId: number; slot: number; count: number }[];
  nextSlot: number;
  /** The offset up to which records may be dispatched now. */
  limit: () => number;
}

export class Dispatcher {
  readonly progress: SharedProgress;
  private readonly pools: Piscina[] = [];
  private readonly dispatched: number[];
  private readonly busy: boolean[];
  private readonly log: CommitLog;
  private readonly limit: () => number;
  private readonly waiters = new Set<Waiter>();
  private drainWaiters: { target: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;
  private stopped = false;
  recordsDispatched = 0;
  private rateWindowStart = Date.now();
  private rateWindowRecords = 0;
  recordsPerSecond = 0;

  private constructor(options: DispatcherOptions, progress: SharedProgress) {
    this.log = options.log;
    this.limit = options.limit;
    this.progress = progress;
    this.dispatched = new Array(options.workers).fill(options.from);
    this.busy = new Array(options.workers).fill(false);
  }

  static async start(options: DispatcherOptions): Promise<Dispatcher> {
    const progress = new SharedProgress();
    for (const s of options.slots) {
      progress.registerSlot(s.topic, s.queueId, s.slot);
      progress.setCount(s.slot, s.count);
    }
    new Int32Array(progress.buffer, 0, 2)[1] = options.nextSlot;
    const d = new Dispatcher(options, progress);
    const filename = new URL('./dispatch-worker.js', import.meta.url).href;
    for (let i = 0; i < options.workers; i++) {
      const pool = new Piscina({
        filename,
        minThreads: 1,
        maxThreads: 1,
        // one dispatch + one maintenance task (see above)
        concurrentTasksPerWorker: 2,
        idleTimeout: Number.POSITIVE_INFINITY,
        execArgv: [],
        // 'async': an idle worker waits without blocking its event loop, so native finalizers
        // (the unmapping of released segment mappings) and timers run between tasks.
        atomics: 'async',
      });
      // A worker that dies (out of memory, a native fault) fails its task; the error is handled there.
      pool.on('error', (err: Error) => d.fail(err));
      d.pools.push(pool);
    }
    await Promise.all(
      d.pools.map((pool, i) =>
        pool.run({
          kind: 'init',
          storeDir: options.storeDir,
          cqEntriesPerFile: options.cqEntriesPerFile,
          indexGeometry: options.indexGeometry,
          workerIndex: i,
          workerCount: options.workers,
          shared: progress.buffer,
          slots: options.slots.map(({ topic, queueId, slot }) => ({ topic, queueId, slot })),
        } satisfies WorkerTask),
      ),
    );
    d.kick();
    return d;
  }

  get workers(): number {
    return this.pools.length;
  }

  /** Everything before this offset is visible through the consume queues and the index. */
  get dispatchedOffset(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const d of this.dispatched) if (d < min) min = d;
    return min;
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  /** New durable data may be there: start a task on every idle worker that is behind. */
  kick(): void {
    if (this.stopped || this.failure) return;
    const limit = this.limit();
    for (let i = 0; i < this.pools.length; i++) {
      if (this.busy[i] || this.dispatched[i]! >= limit) continue;
      const ranges = this.ranges(this.dispatched[i]!, limit);
      if (ranges.length === 0) continue;
      this.busy[i] = true;
      this.track(this.pools[i]!.run({ kind: 'dispatch', ranges } satisfies WorkerTask)).then(
        (r: DispatchResult) => this.completed(i, r),
        (err: Error) => {
          this.busy[i] = false;
          this.fail(err);
        },
      );
    }
  }

  private ranges(from: number, to: number): DispatchRange[] {
    const out: DispatchRange[] = [];
    let bytes = 0;
    for (const seg of this.log.segments) {
      const segEnd = seg.fromOffset + (seg.full ? seg.size : seg.wrotePosition);
      if (segEnd <= from || seg.fromOffset >= to) continue;
      const start = Math.max(from, seg.fromOffset) - seg.fromOffset;
      const end = Math.min(to, segEnd) - seg.fromOffset;
      if (end <= start) continue;
      out.push({ segmentFromOffset: seg.fromOffset, start, end });
      bytes += end - start;
      if (bytes >= MAX_TASK_BYTES) break;
    }
    return out;
  }

  private completed(i: number, r: DispatchResult): void {
    this.busy[i] = false;
    for (const s of r.newSlots) this.progress.registerSlot(s.topic, s.queueId, s.slot);
    if (r.end > this.dispatched[i]!) this.dispatched[i] = r.end;
    if (i === 0) {
      this.recordsDispatched += r.records;
      this.rateWindowRecords += r.records;
      const now = Date.now();
      if (now - this.rateWindowStart >= 1000) {
        this.recordsPerSecond = (this.rateWindowRecords * 1000) / (now - this.rateWindowStart);
        this.rateWindowStart = now;
        this.rateWindowRecords = 0;
      }
    }
    this.wake();
    this.kick();
  }

  private wake(): void {
    for (const w of this.waiters) {
      if (this.progress.count(w.topic, w.queueId) > w.offset) {
        this.waiters.delete(w);
        if (w.timer) clearTimeout(w.timer);
        w.resolve(true);
      }
    }
    const done = this.dispatchedOffset;
    const ready = this.drainWaiters.filter((w) => w.target <= done);
    if (ready.length > 0) {
      this.drainWaiters = this.drainWaiters.filter((w) => w.target > done);
      for (const w of ready) w.resolve();
    }
  }

  /** A failed task (e.g. no disk space for a new consume queue file) is retried after a second. */
  fail(err: Error): void {
    this.failure = err;
    for (const w of this.drainWaiters) w.reject(err);
    this.drainWaiters = [];
    if (this.stopped) return;
    setTimeout(() => {
      this.failure = undefined;
      this.kick();
    }, 1000).unref();
  }

  /** Resolve true once (topic, queueId) has an entry at `offset`, false after timeoutMs. */
  waitFor(topic: string, queueId: number, offset: number, timeoutMs: number): Promise<boolean> {
    if (this.progress.count(topic, queueId) > offset) return Promise.resolve(true);
    if (timeoutMs <= 0 || this.stopped) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const w: Waiter = { topic, queueId, offset, resolve, timer: undefined };
      w.timer = setTimeout(() => {
        this.waiters.delete(w);
        resolve(false);
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  /** Resolve once everything before `target` is dispatched. */
  drain(target: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.dispatchedOffset >= target) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.drainWaiters.push({ target, resolve, reject });
      this.kick();
    });
  }

  /** Force every worker's consume queues and index to disk. Returns the offset they cover. */
  flush(): Promise<number> {
    return this.maintain(async () => {
      const covered = this.dispatchedOffset;
      await Promise.all(this.pools.map((p) => this.track(p.run({ kind: 'flush' } satisfies WorkerTask))));
      return covered;
    });
  }

  /** Workers drop their mappings of deleted segments (and collect them at once when space is short). */
  retention(minPhysicalOffset: number, reclaim: boolean): Promise<void> {
    return this.maintain(async () => {
      await Promise.all(
        this.pools.map((p) =>
          this.track(p.run({ kind: 'retention', minPhysicalOffset, reclaim } satisfies WorkerTask)),
        ),
      );
    });
  }

  /** The tail of the maintenance tasks: they run one after another, never two at once. */
  private maintenance: Promise<unknown> = Promise.resolve();

  private maintain<T>(step: () => Promise<T>): Promise<T> {
    const run = this.maintenance.then(step, step);
    this.maintenance = run.catch(() => {});
    return run;
  }

  private readonly inFlight = new Set<Promise<unknown>>();

  /** Remember a task so close() can wait for it: a pool destroyed under a running task errors. */
  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    const done = () => this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  async close(): Promise<void> {
    this.stopped = true;
    for (const w of this.waiters) {
      if (w.timer) clearTimeout(w.timer);
      w.resolve(false);
    }
    this.waiters.clear();
    await Promise.allSettled([...this.inFlight]);
    await Promise.all(this.pools.map((p) => p.destroy()));
  }
}
