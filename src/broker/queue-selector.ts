/**
 * Queue selection for sends. FIFO messages (with a message group) always go to the queue chosen
 * by a stable hash of the group — Java `String.hashCode` of the group, non-negative, modulo the
 * queue count — so one group lives in one queue and keeps its order. Other messages use the
 * producer's selector: round-robin (default, one counter per topic), random, least-loaded (the
 * queue with the fewest messages written, lowest id on ties), or a function.
 */
import { javaHashCode } from '../store/record-codec.js';
import { BrokerError } from './errors.js';
import type { QueueSelector, SendMessage } from './types.js';

/** Queue of a FIFO message group: stable across runs and processes. */
export function queueForMessageGroup(messageGroup: string, queues: number): number {
  return (javaHashCode(messageGroup) & 0x7fffffff) % queues;
}

export class QueueChooser {
  private readonly selector: QueueSelector;
  /** Round-robin: the next count of each topic (a holder, so a send reads the map once). */
  private readonly counters = new Map<string, { next: number }>();
  /** The counter used last: a batch's messages mostly share a topic (no map lookup each). */
  private lastTopic: string | undefined;
  private lastCounter: { next: number } | undefined;
  /** The selector is a user function (which may, say, create topics while a batch is prepared). */
  readonly callsUser: boolean;
  private readonly loadOf: (topic: string, queueId: number) => number;

  constructor(selector: QueueSelector | undefined, loadOf: (topic: string, queueId: number) => number) {
    const s = selector ?? 'round-robin';
    if (typeof s !== 'function' && s !== 'round-robin' && s !== 'random' && s !== 'least-loaded') {
      throw new BrokerError(
        'BAD_REQUEST',
        `queueSelector must be 'round-robin', 'random', 'least-loaded' or a function, got ${String(s)}.`,
      );
    }
    this.selector = s;
    this.callsUser = typeof s === 'function';
    this.loadOf = loadOf;
  }

  choose(msg: SendMessage, queues: number): number {
    if (msg.messageGroup !== undefined) return queueForMessageGroup(msg.messageGroup, queues);
    const s = this.selector;
    if (typeof s === 'function') {
      const q = s(msg, queues);
      if (!Number.isInteger(q) || q < 0 || q >= queues) {
        throw new BrokerError('BAD_REQUEST', `the queue selector returned ${q}; expected 0..${queues - 1}.`);
      }
      return q;
    }
    if (s === 'random') return Math.floor(Math.random() * queues);
    if (s === 'least-loaded') {
      let best = 0;
      let bestLoad = Number.POSITIVE_INFINITY;
      for (let q = 0; q < queues; q++) {
        const load = this.loadOf(msg.topic, q);
        if (load < bestLoad) {
          best = q;
          bestLoad = load;
        }
      }
      return best;
    }
    const topic = msg.topic;
    let counter = topic === this.lastTopic ? this.lastCounter : this.counters.get(topic);
    if (counter === undefined) {
      counter = { next: 0 };
      this.counters.set(topic, counter);
    }
    this.lastTopic = topic;
    this.lastCounter = counter;
    return counter.next++ % queues;
  }
}
