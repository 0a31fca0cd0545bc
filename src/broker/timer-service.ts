/**
 * TimerService: delayed and timed messages (RocketMQ's 18 delay levels and arbitrary delivery
 * timestamps), persistent across restarts.
 *
 * Design: a time-ordered index over the commit log.
 * - A timed message is appended to `rmq_sys_wheel_timer` (queue 0) with REAL_TOPIC, REAL_QID and
 *   TIMER_DELIVER_MS; consumers cannot see it. Its physical offset names it.
 * - In memory: a binary min-heap of (deliverAtMs, physicalOffset) plus a map of the pending
 *   offsets (recall and lazy deletion). One setTimeout is armed for the earliest due time
 *   (at most 1 s ahead), so delivery is within a few ms of due.
 * - Firing copies the record to its real topic and queue, then appends one `fired` journal
 *   record for the batch (up to 4096 offsets). A crash between the two re-fires the batch after
 *   restart (at-least-once); never the other way round, since the log keeps order.
 * - Recall appends `fired` for a pending message without copying it: it never becomes visible.
 * - Restart: the snapshot lists the pending (offset, due) pairs as of its position; the scan of
 *   the log after it adds timer records and removes fired ones (journal.ts).
 * - A burst of N messages due together is fired in slices of 4096 with a yield between slices,
 *   so 100 000 due in one second go out well within a second and other work keeps running.
 */
import type { BrokerCore } from './core.js';
import { BrokerError } from './errors.js';
import { messageIdOf } from './message-view.js';
import { P_DELIVER_MS, P_REAL_QID, P_REAL_TOPIC } from './properties.js';

const SLICE = 4096;
const MAX_ARM_MS = 1000;

export class TimerService {
  private readonly pending = new Map<number, number>();
  private readonly heap: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Number.POSITIVE_INFINITY;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Lateness of the last fired slice (ms after due, worst case), for tests and stats. */
  lastLatenessMs = 0;
  fired = 0;

  constructor(private readonly core: BrokerCore) {}

  get size(): number {
    return this.pending.size;
  }

  /** Register a timer record (at run time after its append, at replay when scanned). */
  add(physicalOffset: number, dueMs: number): void {
    if (this.pending.has(physicalOffset)) return;
    this.pending.set(physicalOffset, dueMs);
    heapPush(this.heap, dueMs, physicalOffset);
    if (!this.stopped && dueMs < this.armedFor) this.arm();
  }

  /** Forget fired or recalled offsets (replay of `fired`). */
  remove(offsets: number[]): void {
    for (const o of offsets) this.pending.delete(o);
  }

  has(physicalOffset: number): boolean {
    return this.pending.has(physicalOffset);
  }

  snapshot(): [number, number][] {
    return [...this.pending];
  }

  start(): void {
    this.stopped = false;
    this.arm();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Cancel a pending timed message. Resolves with its message id. */
  async recall(topic: string, physicalOffset: number): Promise<string> {
    const rec = this.pending.has(physicalOffset) ? this.core.store.get(physicalOffset) : undefined;
    if (!rec || rec.properties[P_REAL_TOPIC] !== topic) {
      throw new BrokerError(
        'MESSAGE_NOT_FOUND',
        'no pending timed message for this recall handle and topic: it was delivered, recalled, or never sent.',
      );
    }
    const id = messageIdOf(rec);
    const done = this.core.journal({ op: 'fired', o: [physicalOffset] });
    this.pending.delete(physicalOffset);
    await done;
    return id;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    if (this.stopped || this.running) return;
    while (this.heap.length > 0 && this.pending.get(this.heap[1]!) !== this.heap[0]) heapPop(this.heap);
    if (this.heap.length === 0) return;
    const due = this.heap[0]!;
    const wait = Math.max(0, Math.min(due - Date.now(), MAX_ARM_MS));
    this.armedFor = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.armedFor = Number.POSITIVE_INFINITY;
      this.running = this.fireDue().finally(() => {
        this.running = undefined;
        this.arm();
      });
    }, wait);
  }

  private async fireDue(): Promise<void> {
    for (;;) {
      if (this.stopped || this.core.closing) return;
      const now = Date.now();
      const slice: number[] = [];
      let worst = 0;
      while (this.heap.length > 0 && slice.length < SLICE) {
        const due = this.heap[0]!;
        const off = this.heap[1]!;
        if (this.pending.get(off) !== due) {
          heapPop(this.heap);
          continue;
        }
        if (due > now) break;
        heapPop(this.heap);
        slice.push(off);
        if (now - due > worst) worst = now - due;
      }
      if (slice.length === 0) return;
      for (const off of slice) {
        const rec = this.core.store.get(off);
        if (!rec) continue;
        const stored = rec.properties;
        const topic = stored[P_REAL_TOPIC]!;
        const queueId = Number(stored[P_REAL_QID] ?? 0);
        // a fresh object without the routing properties (delete would make it a slow dictionary)
        const props: Record<string, string> = {};
        for (const name in stored) {
          if (name !== P_REAL_TOPIC && name !== P_REAL_QID) props[name] = stored[name]!;
        }
        const info = this.core.topic(topic);
        this.core.append({
          topic,
          queueId: info && queueId < info.queues ? queueId : 0,
          body: rec.body,
          properties: props,
          bornTimestamp: rec.bornTimestamp,
        });
      }
      // Records seal in log order: the journal record being durable covers the copies before it.
      // Nothing waits for it: a crash before it is sealed only fires the slice again.
      this.core.journal({ op: 'fired', o: slice }).catch(() => {});
      for (const off of slice) this.pending.delete(off);
      this.fired += slice.length;
      this.lastLatenessMs = worst;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

/** Deliver-at time of a timer record. */
export function dueOf(props: Record<string, string>): number {
  return Number(props[P_DELIVER_MS]);
}

// Binary min-heap stored flat: [due0, off0, due1, off1, …]
function heapPush(h: number[], due: number, off: number): void {
  let i = h.length / 2;
  h.push(due, off);
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[2 * p]! <= due) break;
    h[2 * i] = h[2 * p]!;
    h[2 * i + 1] = h[2 * p + 1]!;
    i = p;
  }
  h[2 * i] = due;
  h[2 * i + 1] = off;
}

function heapPop(h: number[]): void {
  const n = h.length / 2 - 1;
  const due = h[2 * n]!;
  const off = h[2 * n + 1]!;
  h.length = 2 * n;
  if (n === 0) return;
  let i = 0;
  for (;;) {
    let c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && h[2 * (c + 1)]! < h[2 * c]!) c++;
    if (h[2 * c]! >= due) break;
    h[2 * i] = h[2 * c]!;
    h[2 * i + 1] = h[2 * c + 1]!;
    i = c;
  }
  h[2 * i] = due;
  h[2 * i + 1] = off;
}
