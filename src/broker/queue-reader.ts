/**
 * QueueReader: what the broker needs from the store's read side — per-(topic, queue) reads by
 * queue offset, min/max offsets and the long-poll primitive. When the MessageStore offers them
 * (issue 3: read, minOffset, maxOffset, waitForMessages) they are used directly. Otherwise a
 * small in-memory index of physical offsets, built by one scan at open and fed by the broker's
 * own appends, stands in for the consume queues.
 */
import type { MessageStore } from '../store/message-store.js';
import type { RecordMaker } from '../store/queue-reader.js';
import type { StoredMessage } from '../store/types.js';

export interface QueueReader {
  /** Up to `max` messages of (topic, queueId) from `offset` in queue order (zero-copy). */
  read(topic: string, queueId: number, offset: number, max: number): StoredMessage[];
  minOffset(topic: string, queueId: number): number;
  /** Next offset to be written (only what readers can see). */
  maxOffset(topic: string, queueId: number): number;
  /** Resolves true once a message at `offset` or later is readable, false on timeout. */
  waitForMessages(topic: string, queueId: number, offset: number, timeoutMs: number): Promise<boolean>;
  /**
   * read() with each message made by `make` from the record in place (no StoredRecord in
   * between); only when the store's read side offers it (undefined on the fallback index).
   */
  readonly readWith:
    | (<T>(topic: string, queueId: number, offset: number, max: number, make: RecordMaker<T>) => T[])
    | undefined;
  /** Whether noteAppend does anything (the store's read side ignores appends: no call per record). */
  readonly tracksAppends: boolean;
  /** The broker appended a record (the fallback index learns it; the store's read side ignores it). */
  noteAppend(topic: string, queueId: number, queueOffset: number, physicalOffset: number): void;
  close(): void;
}

interface StoreReadSide {
  read(topic: string, queueId: number, offset: number, max: number): StoredMessage[];
  readWith?<T>(topic: string, queueId: number, offset: number, max: number, make: RecordMaker<T>): T[];
  minOffset(topic: string, queueId: number): number;
  maxOffset(topic: string, queueId: number): number;
  waitForMessages(topic: string, queueId: number, offset: number, timeoutMs: number): Promise<boolean>;
}

export function queueReaderFor(store: MessageStore): QueueReader {
  const side = store as unknown as Partial<StoreReadSide>;
  if (
    typeof side.read === 'function' &&
    typeof side.minOffset === 'function' &&
    typeof side.maxOffset === 'function' &&
    typeof side.waitForMessages === 'function'
  ) {
    return new StoreQueueReader(side as StoreReadSide);
  }
  return new IndexQueueReader(store);
}

class StoreQueueReader implements QueueReader {
  readonly tracksAppends = false;
  readonly readWith: QueueReader['readWith'];
  constructor(private readonly side: StoreReadSide) {
    const readWith = side.readWith;
    this.readWith = readWith === undefined ? undefined : readWith.bind(side);
  }
  read(topic: string, queueId: number, offset: number, max: number): StoredMessage[] {
    return this.side.read(topic, queueId, offset, max);
  }
  minOffset(topic: string, queueId: number): number {
    return this.side.minOffset(topic, queueId);
  }
  maxOffset(topic: string, queueId: number): number {
    return this.side.maxOffset(topic, queueId);
  }
  waitForMessages(topic: string, queueId: number, offset: number, timeoutMs: number): Promise<boolean> {
    return this.side.waitForMessages(topic, queueId, offset, timeoutMs);
  }
  noteAppend(): void {}
  close(): void {}
}

interface Waiter {
  offset: number;
  resolve: (ok: boolean) => void;
  timer: NodeJS.Timeout;
}

class IndexQueueReader implements QueueReader {
  readonly readWith = undefined;
  readonly tracksAppends = true;
  private readonly index = new Map<string, number[][]>();
  private readonly waiters = new Map<string, Set<Waiter>>();

  constructor(private readonly store: MessageStore) {
    for (const rec of store.scan())
      this.noteAppend(rec.topic, rec.queueId, rec.queueOffset, rec.physicalOffset);
  }

  private queue(topic: string, queueId: number): number[] {
    let queues = this.index.get(topic);
    if (!queues) {
      queues = [];
      this.index.set(topic, queues);
    }
    let q = queues[queueId];
    if (!q) {
      q = [];
      queues[queueId] = q;
    }
    return q;
  }

  noteAppend(topic: string, queueId: number, queueOffset: number, physicalOffset: number): void {
    const q = this.queue(topic, queueId);
    q[queueOffset] = physicalOffset;
    const key = `${topic}\u0000${queueId}`;
    const ws = this.waiters.get(key);
    if (!ws) return;
    for (const w of ws) {
      if (w.offset <= queueOffset) {
        ws.delete(w);
        clearTimeout(w.timer);
        w.resolve(true);
      }
    }
  }

  read(topic: string, queueId: number, offset: number, max: number): StoredMessage[] {
    const q = this.queue(topic, queueId);
    const out: StoredMessage[] = [];
    const minPhys = this.store.stats().minOffset;
    for (let o = Math.max(0, offset); o < q.length && out.length < max; o++) {
      const phys = q[o];
      if (phys === undefined || phys < minPhys) continue;
      const rec = this.store.get(phys);
      if (rec) out.push(rec);
    }
    return out;
  }

  minOffset(topic: string, queueId: number): number {
    const q = this.queue(topic, queueId);
    const minPhys = this.store.stats().minOffset;
    let o = 0;
    while (o < q.length && (q[o] === undefined || q[o]! < minPhys)) o++;
    return o;
  }

  maxOffset(topic: string, queueId: number): number {
    return this.queue(topic, queueId).length;
  }

  waitForMessages(topic: string, queueId: number, offset: number, timeoutMs: number): Promise<boolean> {
    if (this.maxOffset(topic, queueId) > offset) return Promise.resolve(true);
    const key = `${topic}\u0000${queueId}`;
    let ws = this.waiters.get(key);
    if (!ws) {
      ws = new Set();
      this.waiters.set(key, ws);
    }
    const set = ws;
    return new Promise((resolve) => {
      const w: Waiter = {
        offset,
        resolve,
        timer: setTimeout(() => {
          set.delete(w);
          resolve(false);
        }, timeoutMs),
      };
      set.add(w);
    });
  }

  close(): void {
    for (const ws of this.waiters.values()) {
      for (const w of ws) {
        clearTimeout(w.timer);
        w.resolve(false);
      }
    }
    this.waiters.clear();
  }
}
