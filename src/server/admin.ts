/**
 * Administration of a broker: list topics, consumer groups and lag; create (or grow) a topic;
 * reset a group's offsets. One set of operations behind both `tidemq admin --dir` (the broker
 * opened directly on a stopped store) and the JSON admin API of a running server (ops-http.ts),
 * so the two answer alike. Requests arrive as untrusted JSON: every field is checked before
 * anything is written, and bad input is a BrokerError with a stable code.
 */
import type { Broker } from '../broker/broker.js';
import { consumerLag, type QueueLag } from '../broker/consumer-lag.js';
import { BrokerError } from '../broker/errors.js';
import { isSystemTopic } from '../broker/topic-registry.js';
import type { TopicInfo, TopicType } from '../broker/types.js';

export interface TopicRow extends TopicInfo {
  /** Messages retained over all queues (max offset − min offset). */
  messages: number;
}

export interface GroupRow {
  group: string;
  clientId?: string;
  topics: string[];
  lag: number;
  inflight: number;
}

export interface ResetResult {
  group: string;
  topic: string;
  to: 'earliest' | 'latest' | number;
  queues: QueueLag[];
}

/** Topics (dead-letter topics included), by name. */
export function listTopics(broker: Broker): TopicRow[] {
  return broker
    .topics()
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((t) => {
      let messages = 0;
      for (let q = 0; q < t.queues; q++) {
        messages += broker.reader.maxOffset(t.name, q) - broker.reader.minOffset(t.name, q);
      }
      return { ...t, messages };
    });
}

/** Consumer groups (and broadcasting clients) with consumer state, their topics, total lag. */
export function listGroups(broker: Broker): GroupRow[] {
  const rows = new Map<string, GroupRow>();
  for (const r of consumerLag(broker)) {
    const key = r.clientId === undefined ? r.group : `${r.group}#${r.clientId}`;
    let row = rows.get(key);
    if (!row) {
      row = { group: r.group, topics: [], lag: 0, inflight: 0 };
      if (r.clientId !== undefined) row.clientId = r.clientId;
      rows.set(key, row);
    }
    if (!row.topics.includes(r.topic)) row.topics.push(r.topic);
    row.lag += r.lag;
    row.inflight += r.inflight;
  }
  return [...rows.values()];
}

/** Per-queue consumer offsets and lag, optionally of one group and/or topic. */
export function lag(broker: Broker, filter: { group?: unknown; topic?: unknown } = {}): QueueLag[] {
  const group = optionalString(filter.group, 'group');
  const topic = optionalString(filter.topic, 'topic');
  return consumerLag(broker, {
    ...(group !== undefined ? { group } : {}),
    ...(topic !== undefined ? { topic } : {}),
  });
}

/** `{ name, queues?, type? }`: create a topic, or grow its queue count / change its type. */
export function createTopic(broker: Broker, request: unknown): TopicInfo {
  const r = objectOf(request);
  const name = requiredString(r.name, 'name');
  const options: { queues?: number; type?: TopicType } = {};
  if (r.queues !== undefined) {
    if (typeof r.queues !== 'number') throw bad(`queues must be a number, got ${JSON.stringify(r.queues)}.`);
    options.queues = r.queues;
  }
  if (r.type !== undefined) {
    if (typeof r.type !== 'string') throw bad(`type must be a string, got ${JSON.stringify(r.type)}.`);
    options.type = r.type.toUpperCase() as TopicType;
  }
  if (isSystemTopic(name)) throw new BrokerError('ILLEGAL_TOPIC', `${name} is a broker-internal topic.`);
  return broker.createTopic(name, options);
}

/**
 * `{ group, topic, to }`: move a group's offsets on every queue of an existing topic. `to` is
 * 'earliest', 'latest', a timestamp in ms or an ISO 8601 date.
 */
export async function resetOffset(broker: Broker, request: unknown): Promise<ResetResult> {
  const r = objectOf(request);
  const group = requiredString(r.group, 'group');
  const topic = requiredString(r.topic, 'topic');
  const to = resetTarget(r.to);
  if (!broker.getTopic(topic)) {
    throw new BrokerError('TOPIC_NOT_FOUND', `topic ${topic} does not exist: list topics to check the name.`);
  }
  await broker.resetOffset(group, topic, to);
  return { group, topic, to, queues: consumerLag(broker, { group, topic }) };
}

/** 'earliest' | 'latest' | ms since the epoch | an ISO 8601 date. */
export function resetTarget(to: unknown): 'earliest' | 'latest' | number {
  if (to === 'earliest' || to === 'latest') return to;
  if (typeof to === 'number' && Number.isSafeInteger(to) && to >= 0) return to;
  if (typeof to === 'string' && to.trim() !== '') {
    if (/^\d+$/.test(to)) return Number(to);
    const ms = Date.parse(to);
    if (Number.isFinite(ms)) return ms;
  }
  throw bad(
    `reset target ${JSON.stringify(to)} is not valid: use earliest, latest, a time in ms or an ISO 8601 date.`,
  );
}

function bad(message: string): BrokerError {
  return new BrokerError('BAD_REQUEST', message);
}

function objectOf(request: unknown): Record<string, unknown> {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    throw bad('the request body must be a JSON object.');
  }
  return request as Record<string, unknown>;
}

function requiredString(v: unknown, field: string): string {
  if (typeof v !== 'string' || v === '') throw bad(`${field} is required (a non-empty string).`);
  return v;
}

function optionalString(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw bad(`${field} must be a string.`);
  return v;
}
