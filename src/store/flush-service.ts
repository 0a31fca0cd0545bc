/**
 * Durability of the commit log.
 *
 * sync: group commit. A put registers a waiter for its end offset and the service runs one flush
 * (msync on a native thread) covering every record written when it starts; all waiters it covers
 * resolve together. Flushes are scheduled with setImmediate, so every put made in the same turn
 * of the event loop shares one flush. A waiter not covered within syncFlushTimeoutMs is rejected
 * with FLUSH_DISK_TIMEOUT.
 *
 * Sealing: records are appended with a zero body CRC; noteAppend schedules a native commit that
 * computes the CRCs on a libuv thread (or, for a small tail, on the JS thread at once). An async put resolves once its record is sealed, so it
 * survives a process crash (the page cache keeps it); a flush always seals first.
 *
 * async: every flushIntervalMs, flush when at least flushLeastPages dirty pages wait, and flush
 * everything at least every flushThoroughIntervalMs.
 *
 * A failed flush is never retried in place: the store becomes read-only, every waiter is rejected
 * with STORE_READ_ONLY, and no success is reported for data that may not be on disk.
 */
import { StoreError } from '../errors.js';
import type { CommitLog } from './commit-log.js';

const PAGE_BYTES = 4096;
/**
 * Unsealed bytes up to which sealing runs on the JS thread instead of the libuv pool: ~15 µs of
 * CRC per 128 KiB of small records with the folded CRC (native/crc32.cc), ~120 µs for 1 MiB.
 * The pool is a latency trap for what sealing gates (async puts, dispatch, hence consumers): its
 * four threads are shared with the periodic msyncs of the commit log, consume queues, index and
 * checkpoint (each blocks tens of ms on the disk), and its answer needs one more turn of the
 * event loop. With 128 KiB, a 2-3 ms hiccup of the event loop at 420 k msg/s left more than that
 * unsealed, the pool sealed it 2-14 ms later, and consumers saw it that much later: four
 * alternating paced runs (420 k msg/s, 3 s) had p99 4.9-7.1 ms with 128 KiB and 3.5-4.1 ms with
 * 1 MiB; the flat-out e2e loop and the append scenarios did not move beyond their noise. Longer
 * tails (a flat-out batch writer) still go to the pool, in parallel with the JS thread.
 */
const INLINE_SEAL_BYTES = 1024 * 1024;

/** A put waiting for durability (a class, not a literal: see deferred.ts). */
class Waiter {
  constructor(
    readonly target: number,
    readonly deadline: number,
    readonly resolve: () => void,
    readonly reject: (err: Error) => void,
  ) {}
}

export interface FlushServiceOptions {
  mode: 'sync' | 'async';
  intervalMs: number;
  leastPages: number;
  thoroughIntervalMs: number;
  syncTimeoutMs: number;
  /** Called once after a flush fails (the store goes read-only). */
  onFailure: (err: StoreError) => void;
  /** Called after each successful flush with the new flushed offset. */
  onFlushed: (flushedOffset: number) => void;
  /** Called after records were sealed or flushed (dispatch may go on). */
  onProgress: () => void;
}

export class FlushService {
  private waiters: Waiter[] = [];
  /** async puts: resolved once their record is sealed (in the page cache with its CRC). */
  private sealWaiters: Waiter[] = [];
  private sealScheduled = false;
  private sealing = false;
  private running: Promise<void> | undefined;
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private lastThoroughMs = Date.now();
  private failure: StoreError | undefined;
  flushes = 0;
  flushFailures = 0;
  /**
   * [ms spent in flushes that wrote something, ms of the last one] (monitoring: average =
   * flushMsTotal / flushes). In a Float64Array: as fields, the first fractional value changed the
   * service's shape and discarded its optimized functions (noteAppend, …) at the first flush.
   */
  private readonly timing = new Float64Array(2);

  get flushMsTotal(): number {
    return this.timing[0]!;
  }

  get lastFlushMs(): number {
    return this.timing[1]!;
  }

  constructor(
    private readonly log: CommitLog,
    private readonly options: FlushServiceOptions,
  ) {}

  start(): void {
    if (this.options.mode === 'async') {
      this.timer = setInterval(() => this.periodic(), this.options.intervalMs);
      this.timer.unref();
    }
  }

  get failed(): StoreError | undefined {
    return this.failure;
  }

  /** Resolve once everything up to `target` is on disk (sync puts). */
  waitFor(target: number): Promise<void> {
    if (this.failure) return Promise.reject(this.readOnlyError());
    if (this.log.flushedOffset >= target) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push(new Waiter(target, Date.now() + this.options.syncTimeoutMs, resolve, reject));
      if (this.deadlineTimer === undefined) this.armDeadline();
      this.schedule();
    });
  }

  /** Called after every append: seal new records soon, off the JS thread. */
  noteAppend(): void {
    if (this.options.mode === 'sync') {
      // sync: one native call seals and flushes (group commit); no separate sealing pass
      if (!this.failure) this.schedule();
      return;
    }
    if (this.sealScheduled || this.sealing) return;
    this.sealScheduled = true;
    setImmediate(() => {
      this.sealScheduled = false;
      this.runSeal();
    });
  }

  /** Resolve once every record before `target` is sealed: it then survives a process crash. */
  waitSealed(target: number): Promise<void> {
    if (this.failure) return Promise.reject(this.readOnlyError());
    if (this.log.sealedOffset >= target) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.sealWaiters.push(new Waiter(target, 0, resolve, reject));
      this.noteAppend();
    });
  }

  private runSeal(): void {
    if (this.sealing || this.failure) return;
    if (this.log.wroteOffset - this.log.sealedOffset <= INLINE_SEAL_BYTES) {
      this.sealInline();
      return;
    }
    this.sealing = true;
    this.sealOnce()
      .catch((err) => this.fail(err))
      .finally(() => {
        this.sealing = false;
        if (this.log.sealedOffset < this.log.wroteOffset && !this.failure) this.noteAppend();
      });
  }

  /**
   * A small unsealed tail (what one turn of the event loop of single appends leaves) is sealed
   * here: its CRCs cost a few µs, less than the hop to the thread pool and back, and its waiters
   * (puts, long polls behind dispatch) answer in this same turn.
   */
  private sealInline(): void {
    try {
      for (const seg of this.log.segments) if (seg.sealedPosition < seg.wrotePosition) seg.sealNow();
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.resolveSealed();
  }

  private resolveSealed(): void {
    const sealed = this.log.sealedOffset;
    let covered = 0;
    while (covered < this.sealWaiters.length && this.sealWaiters[covered]!.target <= sealed) covered++;
    if (covered > 0) for (const w of this.sealWaiters.splice(0, covered)) w.resolve();
    this.options.onProgress();
  }

  private async sealOnce(): Promise<void> {
    for (const seg of this.log.segments) {
      if (seg.sealedPosition < seg.wrotePosition) await seg.commit(false);
    }
    this.resolveSealed();
  }

  /** Everything appended so far is on disk. */
  flushAll(): Promise<void> {
    return this.waitFor(this.log.wroteOffset);
  }

  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.runFlush();
    });
  }

  private runFlush(): void {
    if (this.running || this.failure) return;
    this.running = this.flushOnce().finally(() => {
      this.running = undefined;
      if (this.waiters.length > 0 && !this.failure) this.schedule();
    });
  }

  private async flushOnce(): Promise<void> {
    const started = performance.now();
    let wrote = false;
    try {
      for (const seg of this.log.segments) {
        if (seg.flushedPosition < seg.wrotePosition) {
          await seg.commit(true);
          this.flushes++;
          wrote = true;
        }
      }
    } catch (err) {
      this.fail(err);
      return;
    }
    if (wrote) {
      const ms = performance.now() - started;
      this.timing[1] = ms;
      this.timing[0]! += ms;
    }
    const flushed = this.log.flushedOffset;
    this.options.onFlushed(flushed);
    this.options.onProgress();
    let covered = 0;
    while (covered < this.waiters.length && this.waiters[covered]!.target <= flushed) covered++;
    if (covered > 0) for (const w of this.waiters.splice(0, covered)) w.resolve();
    covered = 0;
    while (covered < this.sealWaiters.length && this.sealWaiters[covered]!.target <= flushed) covered++;
    if (covered > 0) for (const w of this.sealWaiters.splice(0, covered)) w.resolve();
  }

  private fail(err: unknown): void {
    this.flushFailures++;
    this.failure = new StoreError(
      'STORE_READ_ONLY',
      `a commit log flush failed (${String(err)}); the store is read-only so nothing unflushed is reported as stored. Check the disk, then reopen the store.`,
      { cause: err },
    );
    const waiters = [...this.waiters, ...this.sealWaiters];
    this.waiters = [];
    this.sealWaiters = [];
    for (const w of waiters) w.reject(this.readOnlyError());
    this.options.onFailure(this.failure);
  }

  private readOnlyError(): StoreError {
    const f = this.failure!;
    return new StoreError('STORE_READ_ONLY', f.message, { cause: f.cause });
  }

  private armDeadline(): void {
    this.deadlineTimer = setTimeout(
      () => {
        this.deadlineTimer = undefined;
        const now = Date.now();
        const expired = this.waiters.filter((w) => w.deadline <= now);
        if (expired.length > 0) {
          this.waiters = this.waiters.filter((w) => w.deadline > now);
          for (const w of expired) {
            w.reject(
              new StoreError(
                'FLUSH_DISK_TIMEOUT',
                `the record was written but not confirmed on disk within ${this.options.syncTimeoutMs} ms (TIDEMQ_SYNC_FLUSH_TIMEOUT_MS); it may or may not survive a crash — check disk latency.`,
              ),
            );
          }
        }
        if (this.waiters.length > 0) this.armDeadline();
      },
      Math.max(1, (this.waiters[0]?.deadline ?? Date.now()) - Date.now()),
    );
    this.deadlineTimer.unref();
  }

  private periodic(): void {
    if (this.running || this.failure) return;
    const dirty = this.log.wroteOffset - this.log.flushedOffset;
    if (dirty <= 0) return;
    const now = Date.now();
    const thorough = now - this.lastThoroughMs >= this.options.thoroughIntervalMs;
    if (thorough || dirty >= this.options.leastPages * PAGE_BYTES) {
      if (thorough) this.lastThoroughMs = now;
      this.runFlush();
    }
  }

  /** Stop timers; waits for a flush in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.timer = undefined;
    this.deadlineTimer = undefined;
    await this.running;
    while (this.sealing || this.sealScheduled) await new Promise((r) => setImmediate(r));
  }
}
