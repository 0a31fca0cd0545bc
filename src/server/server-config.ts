/**
 * The declarative configuration of `tidemq serve --config <file>`:
 *
 *   { "topics": { "orders": { "queues": 8, "type": "FIFO" } },
 *     "groups": { "billing": { "fifo": true, "maxDeliveryAttempts": 3, "retryBackoffMs": [1000, 5000] } } }
 *
 * Topics are created when the server starts. A topic that already exists takes the file's type
 * and grows to the file's queue count; a file asking for fewer queues than the topic has is an
 * error (queues hold messages and cannot be removed), and nothing is changed.
 *
 * Groups go into the broker's persisted group settings (broker.configureGroup) at start; the
 * service reads them from there, so `tidemq admin configure-group` can change them at run time.
 * The file is declarative for the groups it names: at each start, a named group's settings
 * become exactly the file's entry (fields it leaves out fall back to the broker's defaults),
 * replacing what was stored, a run-time change included (see plannedGroups). Groups the file
 * does not name keep their stored settings: a start without the file, or with a group removed
 * from it, changes nothing (forget a group with `tidemq admin configure-group <g> --reset`). Names are the broker's (inside a
 * namespace: `<namespace>%<name>`). Everything is checked strictly, unknown keys included, and a
 * problem is an INVALID_CONFIG error naming the file, the key and what to do.
 */
import { BrokerError } from '../broker/errors.js';
import type { GroupConfig } from '../broker/group-registry.js';
import { checkGroupName, checkTopicName, isSystemTopic } from '../broker/topic-registry.js';
import type { TopicInfo, TopicType } from '../broker/types.js';
import { ServerConfigError } from './errors.js';

export interface TopicSettings {
  queues?: number;
  type?: TopicType;
}

/** A consumer group's settings; unset fields take the broker's group defaults. */
export interface GroupSettings {
  /** Deliver each message group in order, one message in flight (default: FIFO topics only). */
  fifo?: boolean;
  /** Deliveries before a message moves to %DLQ%<group> (broker default 17). */
  maxDeliveryAttempts?: number;
  /** Nack backoff by retry number, ms (broker default RocketMQ's 10 s, 30 s, 1 min …). */
  retryBackoffMs?: number[];
}

export interface ServerConfig {
  topics: Record<string, TopicSettings>;
  groups: Record<string, GroupSettings>;
}

const TOPIC_TYPES: readonly TopicType[] = ['NORMAL', 'FIFO', 'DELAY', 'TRANSACTION', 'PRIORITY', 'MIXED'];
const MAX_QUEUES = 1024;
const MAX_DELIVERY_ATTEMPTS = 1000;
const MAX_BACKOFF_STEPS = 64;
const MAX_BACKOFF_MS = 24 * 3600 * 1000;
const GROUP_KEYS = ['fifo', 'maxDeliveryAttempts', 'retryBackoffMs'];

/** Validates a parsed config (the file, or ServerOptions.topics/groups); `source` names it. */
export function checkServerConfig(value: unknown, source: string): ServerConfig {
  const bad = (key: string, problem: string): never => {
    throw new ServerConfigError('INVALID_CONFIG', `${source}: ${key}: ${problem}`);
  };
  if (!isObject(value)) bad('(top level)', 'expected an object { "topics": { … }, "groups": { … } }.');
  for (const k of Object.keys(value as object)) {
    if (k !== 'topics' && k !== 'groups') bad(k, 'unknown key; use "topics" and "groups".');
  }
  const { topics = {}, groups = {} } = value as Record<string, unknown>;
  if (!isObject(topics)) bad('topics', 'expected an object of topic name → { queues, type }.');
  if (!isObject(groups)) {
    bad('groups', 'expected an object of group name → { fifo, maxDeliveryAttempts, retryBackoffMs }.');
  }

  const outTopics: Record<string, TopicSettings> = {};
  for (const [name, t] of Object.entries(topics as object)) {
    const at = `topics.${name}`;
    nameCheck(() => checkTopicName(name), at, bad);
    if (isSystemTopic(name)) bad(at, 'this name is reserved for the broker; choose another.');
    if (!isObject(t)) bad(at, 'expected an object { "queues": n, "type": "…" }.');
    const s = t as Record<string, unknown>;
    for (const k of Object.keys(s))
      if (k !== 'queues' && k !== 'type') bad(`${at}.${k}`, 'unknown key; use "queues" and "type".');
    if (
      s.queues !== undefined &&
      !(Number.isInteger(s.queues) && (s.queues as number) >= 1 && (s.queues as number) <= MAX_QUEUES)
    ) {
      bad(`${at}.queues`, `expected an integer from 1 to ${MAX_QUEUES}, got ${JSON.stringify(s.queues)}.`);
    }
    if (s.type !== undefined && !TOPIC_TYPES.includes(s.type as TopicType)) {
      bad(`${at}.type`, `expected one of ${TOPIC_TYPES.join(', ')}, got ${JSON.stringify(s.type)}.`);
    }
    outTopics[name] = {
      ...(s.queues !== undefined && { queues: s.queues as number }),
      ...(s.type !== undefined && { type: s.type as TopicType }),
    };
  }

  const outGroups: Record<string, GroupSettings> = {};
  for (const [name, g] of Object.entries(groups as object)) {
    const at = `groups.${name}`;
    nameCheck(() => checkGroupName(name), at, bad);
    if (!isObject(g)) bad(at, 'expected an object { "fifo": bool, "maxDeliveryAttempts": n }.');
    const s = g as Record<string, unknown>;
    for (const k of Object.keys(s)) {
      if (!GROUP_KEYS.includes(k))
        bad(`${at}.${k}`, 'unknown key; use "fifo", "maxDeliveryAttempts" and "retryBackoffMs".');
    }
    if (s.fifo !== undefined && typeof s.fifo !== 'boolean') bad(`${at}.fifo`, 'expected true or false.');
    const m = s.maxDeliveryAttempts;
    if (
      m !== undefined &&
      !(Number.isInteger(m) && (m as number) >= 1 && (m as number) <= MAX_DELIVERY_ATTEMPTS)
    ) {
      bad(
        `${at}.maxDeliveryAttempts`,
        `expected an integer from 1 to ${MAX_DELIVERY_ATTEMPTS}, got ${JSON.stringify(m)}.`,
      );
    }
    const r = s.retryBackoffMs;
    if (r !== undefined && !isBackoff(r)) {
      bad(
        `${at}.retryBackoffMs`,
        `expected a list of 1 to ${MAX_BACKOFF_STEPS} delays in ms (integers from 0 to ${MAX_BACKOFF_MS}), got ${JSON.stringify(r)}.`,
      );
    }
    outGroups[name] = {
      ...(s.fifo !== undefined && { fifo: s.fifo as boolean }),
      ...(m !== undefined && { maxDeliveryAttempts: m as number }),
      ...(r !== undefined && { retryBackoffMs: [...(r as number[])] }),
    };
  }
  return { topics: outTopics, groups: outGroups };
}

/**
 * Topic changes to make at start, checked against the topics on disk before anything is
 * written: existing topics take the configured type and grow, never shrink.
 */
export function plannedTopics(
  config: Record<string, TopicSettings>,
  existing: (name: string) => TopicInfo | undefined,
  defaultQueues: number,
  source: string,
): TopicInfo[] {
  const plan: TopicInfo[] = [];
  for (const [name, t] of Object.entries(config)) {
    const current = existing(name);
    const queues = t.queues ?? current?.queues ?? defaultQueues;
    const type = t.type ?? current?.type ?? 'NORMAL';
    if (current && current.queues > queues) {
      throw new ServerConfigError(
        'INVALID_CONFIG',
        `${source}: topics.${name}.queues: the topic already has ${current.queues} queues and a queue count can only grow; set queues to ${current.queues} or more.`,
      );
    }
    if (!current || current.queues !== queues || current.type !== type) plan.push({ name, queues, type });
  }
  return plan;
}

/** A retry backoff list: 1..MAX_BACKOFF_STEPS integer delays of 0..MAX_BACKOFF_MS ms. */
export function isBackoff(r: unknown): r is number[] {
  return (
    Array.isArray(r) &&
    r.length >= 1 &&
    r.length <= MAX_BACKOFF_STEPS &&
    r.every((b) => Number.isInteger(b) && b >= 0 && b <= MAX_BACKOFF_MS)
  );
}

/**
 * Group changes to make at start: each group the file names whose stored configuration differs
 * from the file's entry (so an unchanged file writes nothing). Groups the file does not name are
 * left alone.
 */
export function plannedGroups(
  config: Record<string, GroupSettings>,
  stored: (name: string) => GroupConfig | undefined,
): { name: string; settings: GroupSettings; previous: GroupConfig | undefined }[] {
  const plan = [];
  for (const [name, settings] of Object.entries(config)) {
    const previous = stored(name);
    if (!sameGroupConfig(previous, settings)) plan.push({ name, settings, previous });
  }
  return plan;
}

function sameGroupConfig(a: GroupConfig | undefined, b: GroupSettings): boolean {
  if (a === undefined) return false;
  return (
    a.fifo === b.fifo &&
    a.maxDeliveryAttempts === b.maxDeliveryAttempts &&
    JSON.stringify(a.retryBackoffMs) === JSON.stringify(b.retryBackoffMs)
  );
}

function nameCheck(check: () => void, at: string, bad: (key: string, problem: string) => never): void {
  try {
    check();
  } catch (err) {
    if (err instanceof BrokerError) bad(at, err.message);
    throw err;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
