/**
 * Consumer lag for monitoring and administration: per subscriber (a consumer group, or
 * group#clientId for broadcasting), topic and queue, RocketMQ's consumer offset against the
 * queue's max offset, and how many delivered messages are still invisible (in flight).
 *
 * Computed on demand (a metrics scrape, an admin request) from ConsumerState and the queue
 * reader; nothing here runs on the message path.
 */
import type { Broker } from './broker.js';

export interface QueueLag {
  group: string;
  /** Set for a broadcasting subscriber (its state is per client). */
  clientId?: string;
  topic: string;
  queueId: number;
  /** Everything below it is done (acked, dead-lettered or filtered out). */
  consumerOffset: number;
  /** Next queue offset to be written (dispatched messages only). */
  maxOffset: number;
  /** Messages not done yet: maxOffset − max(consumerOffset, oldest retained offset). */
  lag: number;
  /** Delivered, not acked, and still invisible. */
  inflight: number;
}

export interface LagFilter {
  group?: string;
  topic?: string;
}

/** One row per queue of every topic a subscriber has consumed from, in subscriber/topic/queue order. */
export function consumerLag(broker: Broker, filter: LagFilter = {}, nowMs = Date.now()): QueueLag[] {
  const rows: QueueLag[] = [];
  for (const key of broker.state.subscribers().sort()) {
    const hash = key.indexOf('#');
    const group = hash < 0 ? key : key.slice(0, hash);
    if (filter.group !== undefined && group !== filter.group) continue;
    const clientId = hash < 0 ? undefined : key.slice(hash + 1);
    const topics = broker.state.topicsOf(key);
    for (const topic of [...topics.keys()].sort()) {
      if (filter.topic !== undefined && topic !== filter.topic) continue;
      const queues = topics.get(topic)!;
      const count = Math.max(broker.getTopic(topic)?.queues ?? 0, queues.length);
      for (let queueId = 0; queueId < count; queueId++) {
        const qp = queues[queueId];
        const minOffset = broker.reader.minOffset(topic, queueId);
        const maxOffset = broker.reader.maxOffset(topic, queueId);
        const consumerOffset = qp ? qp.committed : minOffset;
        let inflight = 0;
        if (qp) for (const [, e] of qp.entries()) if (e.attempt > 0 && e.visibleAt > nowMs) inflight++;
        const row: QueueLag = {
          group,
          topic,
          queueId,
          consumerOffset,
          maxOffset,
          lag: Math.max(0, maxOffset - Math.max(consumerOffset, minOffset)),
          inflight,
        };
        if (clientId !== undefined) row.clientId = clientId;
        rows.push(row);
      }
    }
  }
  return rows;
}
