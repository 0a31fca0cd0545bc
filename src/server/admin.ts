/**
 * Administration of a broker: list topics, consumer groups (their settings and lag) and lag;
 * create (or grow) a topic; reset a group's offsets; configure a group. One set of operations behind both `tidemq admin --dir` (the broker
 * opened directly on a stopped store) and the JSON admin API of a running server (ops-http.ts),
 * so the two answer alike. Requests arrive as untrusted JSON: every field is checked before
 * anything is written, and bad input is a BrokerError with a stable code.
 */
import type { Broker } from '../broker/broker.js';
import { consumerLag, type QueueLag } from '../broker/consumer-lag.js';
import { BrokerError } from '../broker/errors.js';
import type { GroupConfig, GroupInfo } from '../broker/group-registry.js';
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
  /** The group's effective settings (broker.groupInfo): configured values over the defaults. */
  configured: boolean;
  maxDeliveryAttempts: number;
  retryBackoffMs: number[];
  /** Absent: FIFO exactly on FIFO topics. */
  fifo?: boolean;
}

/** A configure-group request: the fields given change, the others stay; `reset` forgets all. */
export interface ConfigureGroupRequest {
  group: string;
  maxDeliveryAttempts?: number;
  /** null: back to the default (FIFO exactly on FIFO topics). */
  fifo?: boolean | null;
  retryBackoffMs?: number[];
  reset?: boolean;
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

/**
 * Consumer groups (and broadcasting clients) with consumer state, their topics, total lag and
 * settings; configured groups without consumer state too.
 */
export function listGroups(broker: Broker): GroupRow[] {
  const rows = new Map<string, GroupRow>();
  const rowOf = (group: string, clientId: string | undefined): GroupRow => {
    const key = clientId === undefined ? group : `${group}#${clientId}`;
    let row = rows.get(key);
    if (!row) {
      row = {
        group,
        ...(clientId !== undefined && { clientId }),
        topics: [],
        lag: 0,
        inflight: 0,
        ...settingsOf(broker.groupInfo(group)),
      };
      rows.set(key, row);
    }
    return row;
  };
  for (const r of consumerLag(broker)) {
    const row = rowOf(r.group, r.clientId);
    if (!row.topics.includes(r.topic)) row.topics.push(r.topic);
    row.lag += r.lag;
    row.inflight += r.inflight;
  }
  const listed = new Set([...rows.values()].map((r) => r.group));
  for (const g of broker.groups()) if (g.configured && !listed.has(g.name)) rowOf(g.name, undefined);
  return [...rows.values()].sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
}

function settingsOf(
  g: GroupInfo,
): Pick<GroupRow, 'configured' | 'maxDeliveryAttempts' | 'retryBackoffMs' | 'fifo'> {
  return {
    configured: g.configured,
    maxDeliveryAttempts: g.maxDeliveryAttempts,
    retryBackoffMs: g.retryBackoffMs,
    ...(g.fifo !== undefined && { fifo: g.fifo }),
  };
}

/**
 * Change a group's settings (persisted; a running server's consumers follow at once). The
 * request's fields replace those settings only; `fifo: null` returns to the default; `reset`
 * forgets the group's configuration. Checked in full before anything is written.
 */
export async function configureGroup(broker: Broker, request: unknown): Promise<GroupInfo> {
  const r = objectOf(request);
  const group = requiredString(r.group, 'group');
  for (const k of Object.keys(r)) {
    if (!['group', 'maxDeliveryAttempts', 'fifo', 'retryBackoffMs', 'reset'].includes(k)) {
      throw bad(
        `unknown field ${JSON.stringify(k)}: use maxDeliveryAttempts, fifo, retryBackoffMs or reset.`,
      );
    }
  }
  const changes = ['maxDeliveryAttempts', 'fifo', 'retryBackoffMs'].filter((k) => r[k] !== undefined);
  if (r.reset !== undefined && r.reset !== false) {
    if (r.reset !== true) throw bad('reset must be true or absent.');
    if (changes.length > 0)
      throw bad(`reset forgets every setting; do not combine it with ${changes.join(', ')}.`);
    return broker.configureGroup(group, null);
  }
  if (changes.length === 0) {
    throw bad('nothing to change: give maxDeliveryAttempts, fifo or retryBackoffMs (or reset).');
  }
  if (r.fifo !== undefined && r.fifo !== null && typeof r.fifo !== 'boolean') {
    throw bad(`fifo must be true, false or null, got ${JSON.stringify(r.fifo)}.`);
  }
  const next: GroupConfig = { ...(broker.groupConfig.config(group) ?? {}) };
  if (r.maxDeliveryAttempts !== undefined) next.maxDeliveryAttempts = r.maxDeliveryAttempts as number;
  if (r.retryBackoffMs !== undefined) next.retryBackoffMs = r.retryBackoffMs as number[];
  if (r.fifo === null) delete next.fifo;
  else if (r.fifo !== undefined) next.fifo = r.fifo as boolean;
  return broker.configureGroup(group, next);
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
function resetTarget(to: unknown): 'earliest' | 'latest' | number {
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
