/**
 * Dispatch progress shared between the main thread and the dispatch workers, without a message
 * per queue: one SharedArrayBuffer holding each partition's consume queue entry count.
 *
 * ```
 *  Int32  [0] generation   bumped (Atomics) after a worker has written its counts
 *  Int32  [1] nextSlot     slot allocator (Atomics.add)
 *  Float64 counts[slot]    entries in the partition's consume queue (its next queue offset)
 * ```
 * A worker writes counts, then bumps the generation; a reader loads the generation first, so
 * the counts it reads are at least as new as the entries they describe (Atomics order them).
 */
export const MAX_PARTITIONS = 1 << 18;
const HEADER_BYTES = 64;

export class SharedProgress {
  readonly buffer: SharedArrayBuffer;
  private readonly ctl: Int32Array;
  private readonly counts: Float64Array;
  private readonly slots = new Map<string, number>();

  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(HEADER_BYTES + MAX_PARTITIONS * 8);
    this.ctl = new Int32Array(this.buffer, 0, 2);
    this.counts = new Float64Array(this.buffer, HEADER_BYTES, MAX_PARTITIONS);
  }

  static key(topic: string, queueId: number): string {
    return `${topic}\u0000${queueId}`;
  }

  slotFor(topic: string, queueId: number): number {
    return this.slots.get(SharedProgress.key(topic, queueId)) ?? -1;
  }

  /** Every (topic, queueId) registered here, with its slot. */
  registered(): { topic: string; queueId: number; slot: number }[] {
    const out: { topic: string; queueId: number; slot: number }[] = [];
    for (const [key, slot] of this.slots) {
      const cut = key.lastIndexOf('\u0000');
      out.push({ topic: key.slice(0, cut), queueId: Number(key.slice(cut + 1)), slot });
    }
    return out;
  }

  registerSlot(topic: string, queueId: number, slot: number): void {
    this.slots.set(SharedProgress.key(topic, queueId), slot);
  }

  allocateSlot(): number {
    const slot = Atomics.add(this.ctl, 1, 1);
    if (slot >= MAX_PARTITIONS) {
      throw new Error(`tidemq supports at most ${MAX_PARTITIONS} (topic, queue) partitions per store`);
    }
    return slot;
  }

  setCount(slot: number, count: number): void {
    this.counts[slot] = count;
  }

  publish(): void {
    Atomics.add(this.ctl, 0, 1);
  }

  /** Entries dispatched into the partition's consume queue (0 when unknown). */
  count(topic: string, queueId: number): number {
    const slot = this.slotFor(topic, queueId);
    if (slot < 0) return 0;
    Atomics.load(this.ctl, 0);
    return this.counts[slot]!;
  }

  countAt(slot: number): number {
    Atomics.load(this.ctl, 0);
    return this.counts[slot]!;
  }
}
