/**
 * The declarative configuration of `tidemq serve --config <file>`:
 *
 *   { "topics": { "orders": { "queues": 8, "type": "FIFO" } },
 *     "groups": { "billing": { "fifo": true, "maxDeliveryAttempts": 3 } } }
 *
 * Topics are created when the server starts. A topic that already exists takes the file's type
 * and grows to the file's queue count; a file asking for fewer queues than the topic has is an
 * error (queues hold messages and cannot be removed), and nothing is changed. Groups are handed
 * to the service through ServiceContext.groupSettings. Names are the broker's (inside a
 * namespace: `<namespace>%<name>`). Everything is checked strictly, unknown keys included, and a
 * problem is an INVALID_CONFIG error naming the file, the key and what to do.
 */
import { BrokerError } from '../broker/errors.js';
import { checkGroupName, checkTopicName, isSystemTopic } from '../broker/topic-registry.js';
import type { TopicInfo, TopicType } from '../broker/types.js';
import { ServerConfigError } from './errors.js';
import type { GroupSettings } from './messaging-service.js';

export interface TopicSettings {
  queues?: number;
  type?: TopicType;
}

export interface ServerConfig {
  topics: Record<string, TopicSettings>;
  groups: Record<string, GroupSettings>;
}

const TOPIC_TYPES: readonly TopicType[] = ['NORMAL', 'FIFO', 'DELAY', 'TRANSACTION', 'PRIORITY', 'MIXED'];
const MAX_QUEUES = 1024;
const MAX_DELIVERY_ATTEMPTS = 1000;

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
  if (!isObject(groups)) bad('groups', 'expected an object of group name → { fifo, maxDeliveryAttempts }.');

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
      if (k !== 'fifo' && k !== 'maxDeliveryAttempts')
        bad(`${at}.${k}`, 'unknown key; use "fifo" and "maxDeliveryAttempts".');
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
    outGroups[name] = {
      ...(s.fifo !== undefined && { fifo: s.fifo as boolean }),
      ...(m !== undefined && { maxDeliveryAttempts: m as number }),
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
