/**
 * Dispatcher (main thread side): tells the dispatch workers how far the commit log is durable
 * and wakes readers when their queues advance.
 *
 * Partitions → workers: a (topic, queueId) belongs to worker `(hash(topic)·31 + queueId) mod N`
 * (dispatch-worker.ts ownerOf). The mapping is stable for a run and needs no coordination, so each
 * consume queue has exactly one writer; worker 0 also owns the key index (an IndexFile is one
 * chain of entries and cannot take two writers). Each worker is its own one-thread Piscina pool
 * running its dispatch loop and at most one maintenance task (flush or retention). Both run on
 * the worker's one thread, and a dispatch batch is synchronous, so they can only interleave where
 * a flush awaits an msync: a batch may then append entries, which the msync may or may not
 * include and the next flush covers (flush reports only the offset dispatched before it began).
 * Without that, the per-second flush (tens of ms of msync for the key index under load) held
 * every dispatch back and was the whole latency tail of a consumer.
 *
 * Each worker runs one long-lived dispatch loop (dispatch-worker.ts `loop`): the dispatcher moves
 * a shared limit and notifies (Atomics), the worker walks every record up to it (parsing a
 * header costs far less than a message per record across threads), writes only its own
 * partitions, publishes per-queue counts (shared-progress.ts) and posts its dispatched offset
 * on a MessagePort; that message wakes the long polls. A loop that fails (e.g. no disk space
 * for a new consume queue file) is restarted a second later from its last published offset;
 * consume queue appends are idempotent, so the re-walked records change nothing.
 *
 * What is dispatched: up to the sealed offset in async mode (a record that survives a process
 * crash) and up to the flushed offset in sync mode, so a consumer never sees a message that a
 * crash could take back.
 */
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { CommitLog } from './commit-log.js';
import {
  CONTROL_BYTES,
  CTL_IDLE,
  CTL_LIMIT_BYTE,
  CTL_SEQ,
  CTL_STOP,
  type DispatchProgress,
  type InitTask,
  type LoopTask,
  type WorkerTask,
} from './dispatch-worker.js';
import type { IndexGeometry } from './index-file.js';
import { SharedProgress } from './shared-progress.js';

/** A long poll (a class, not a literal: see deferred.ts). */
class Waiter {
  timer: NodeJS.Timeout | undefined = undefined;
  constructor(
    readonly topic: string,
    readonly queueId: number,
    readonly offset: number,
    readonly resolve: (ok: boolean) => void,
  ) {}
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
  /** Whether worker i's dispatch loop runs (false after it failed, until restarted). */
  private readonly running: boolean[];
  /** Shared with the loops: sequence, stop flag, limit (dispatch-worker.ts CONTROL_BYTES). */
  private readonly control = new SharedArrayBuffer(CONTROL_BYTES);
  private readonly ctl = new Int32Array(this.control, 0, 3);
  private readonly limitCell = new BigInt64Array(this.control, CTL_LIMIT_BYTE, 1);
  /** The limit last handed to the loops. */
  private published = -1;
  /** Worker i's init task, with the slots registered so far. */
  private initOf!: (i: number) => InitTask;
  private readonly log: CommitLog;
  private readonly limit: () => number;
  private readonly waiters = new Set<Waiter>();
  private drainWaiters: { target: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;
  private stopped = false;
  recordsDispatched = 0;
  /**
   * [window start (ms), records in the window, records per second of the last window]: numbers
   * in a Float64Array, not fields — a field that first holds an integer and later a fraction
   * changes the object's shape and discards every optimized function that relied on it (wake,
   * scan, …) when the first window closes.
   */
  private readonly rate = new Float64Array([Date.now(), 0, 0]);

  get recordsPerSecond(): number {
    return this.rate[2]!;
  }

  private constructor(options: DispatcherOptions, progress: SharedProgress) {
    this.log = options.log;
    this.limit = options.limit;
    this.progress = progress;
    this.dispatched = new Array(options.workers).fill(options.from);
    this.running = new Array(options.workers).fill(false);
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
        // the dispatch loop + one maintenance task (see above)
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
    d.initOf = (i) => ({
      kind: 'init',
      storeDir: options.storeDir,
      cqEntriesPerFile: options.cqEntriesPerFile,
      indexGeometry: options.indexGeometry,
      workerIndex: i,
      workerCount: options.workers,
      shared: progress.buffer,
      slots: progress.registered(),
    });
    await Promise.all(d.pools.map((pool, i) => pool.run(d.initOf(i) satisfies WorkerTask)));
    for (let i = 0; i < options.workers; i++) d.startLoop(i);
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

  /** New durable data may be there: hand the loops the new limit. */
  kick(): void {
    if (this.stopped) return;
    const limit = this.limit();
    if (limit <= this.published) return;
    this.published = limit;
    Atomics.store(this.limitCell, 0, BigInt(limit));
    Atomics.add(this.ctl, CTL_SEQ, 1);
    if (Atomics.load(this.ctl, CTL_IDLE) > 0) Atomics.notify(this.ctl, CTL_SEQ);
  }

  /** Start worker i's dispatch loop from its dispatched offset. */
  private startLoop(i: number): void {
    const from = Math.max(this.dispatched[i]!, this.log.minOffset);
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (m: DispatchProgress) => this.progressed(i, m));
    port1.unref();
    const task: LoopTask = {
      kind: 'loop',
      init: this.initOf(i),
      control: this.control,
      from,
      segmentFromOffset: this.log.segmentFor(from)?.fromOffset ?? from,
      port: port2,
    };
    this.running[i] = true;
    this.track(this.pools[i]!.run(task satisfies WorkerTask, { transferList: [port2] })).then(
      () => {
        port1.close();
      },
      (err: Error) => {
        port1.close();
        this.running[i] = false;
        this.fail(err);
      },
    );
  }

  private progressed(i: number, [end, records, newSlots]: DispatchProgress): void {
    if (newSlots) for (const s of newSlots) this.progress.registerSlot(s.topic, s.queueId, s.slot);
    if (end > this.dispatched[i]!) this.dispatched[i] = end;
    if (i === 0) {
      this.recordsDispatched += records;
      const rate = this.rate;
      rate[1]! += records;
      const now = Date.now();
      if (now - rate[0]! >= 1000) {
        rate[2] = (rate[1]! * 1000) / (now - rate[0]!);
        rate[0] = now;
        rate[1] = 0;
      }
    }
    this.wake();
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

  /** A failed loop (e.g. no disk space for a new consume queue file) is restarted after a second. */
  fail(err: Error): void {
    this.failure = err;
    for (const w of this.drainWaiters) w.reject(err);
    this.drainWaiters = [];
    if (this.stopped) return;
    setTimeout(() => {
      if (this.stopped) return;
      this.failure = undefined;
      for (let j = 0; j < this.pools.length; j++) if (!this.running[j]) this.startLoop(j);
    }, 1000).unref();
  }

  /** Resolve true once (topic, queueId) has an entry at `offset`, false after timeoutMs. */
  waitFor(topic: string, queueId: number, offset: number, timeoutMs: number): Promise<boolean> {
    if (this.progress.count(topic, queueId) > offset) return Promise.resolve(true);
    if (timeoutMs <= 0 || this.stopped) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const w = new Waiter(topic, queueId, offset, resolve);
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
    Atomics.store(this.ctl, CTL_STOP, 1);
    Atomics.add(this.ctl, CTL_SEQ, 1);
    Atomics.notify(this.ctl, CTL_SEQ);
    for (const w of this.waiters) {
      if (w.timer) clearTimeout(w.timer);
      w.resolve(false);
    }
    this.waiters.clear();
    await Promise.allSettled([...this.inFlight]);
    await Promise.all(this.pools.map((p) => p.destroy()));
  }
}
