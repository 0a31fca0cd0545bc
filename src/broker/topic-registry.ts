/**
 * TopicRegistry: topics, their queue counts and message types, kept in `config/topics.json` in
 * the shape RocketMQ 5 writes (`topicConfigTable`, the type as the `+message.type` attribute).
 * The file is replaced atomically (write to .tmp, fsync, rename) on every change, so a crash
 * leaves either the old table or the new one.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { BrokerError } from './errors.js';
import type { MessageType, TopicInfo, TopicOptions, TopicType } from './types.js';

const NAME_PATTERN = /^[%|a-zA-Z0-9_-]+$/;
const TOPIC_TYPES: readonly TopicType[] = ['NORMAL', 'FIFO', 'DELAY', 'TRANSACTION', 'PRIORITY', 'MIXED'];
const MAX_QUEUES = 1024;

/** Topics the broker writes for itself; users can neither create nor send to them. */
export const SYSTEM_TOPIC_PREFIX = 'rmq_sys_';

/**
 * Broker-internal topics (case-insensitive prefix, as RMQ_SYS_TRANS_HALF_TOPIC shows). Compares
 * char codes with an ASCII case fold: it runs on every send, and no other character lower-cases
 * to one of the prefix's.
 */
export function isSystemTopic(name: string): boolean {
  const n = SYSTEM_TOPIC_PREFIX.length;
  if (name.length < n) return false;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    const lower = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
    if (lower !== SYSTEM_TOPIC_PREFIX.charCodeAt(i)) return false;
  }
  return true;
}

export function checkTopicName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 127 || !NAME_PATTERN.test(name)) {
    throw new BrokerError(
      'ILLEGAL_TOPIC',
      `topic ${JSON.stringify(name)} is not valid: use 1 to 127 characters from [A-Za-z0-9_%|-].`,
    );
  }
}

export function checkGroupName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 255 || !NAME_PATTERN.test(name)) {
    throw new BrokerError(
      'ILLEGAL_CONSUMER_GROUP',
      `consumer group ${JSON.stringify(name)} is not valid: use 1 to 255 characters from [A-Za-z0-9_%|-].`,
    );
  }
}

interface TopicConfigJson {
  topicName: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  attributes: Record<string, string>;
}

export class TopicRegistry {
  private readonly file: string;
  private readonly topics = new Map<string, TopicInfo>();

  constructor(configDir: string) {
    this.file = path.join(configDir, 'topics.json');
    let text: string | undefined;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return;
    }
    const table = (JSON.parse(text) as { topicConfigTable?: Record<string, TopicConfigJson> })
      .topicConfigTable;
    for (const [name, c] of Object.entries(table ?? {})) {
      const type = (c.attributes?.['+message.type'] ?? 'NORMAL') as TopicType;
      this.topics.set(name, { name, queues: c.writeQueueNums, type });
    }
  }

  get(name: string): TopicInfo | undefined {
    return this.topics.get(name);
  }

  list(): TopicInfo[] {
    return [...this.topics.values()].map((t) => ({ ...t }));
  }

  /** Create a topic, or update its queue count/type. Validates before writing anything. */
  create(name: string, options: TopicOptions, defaultQueues: number, system = false): TopicInfo {
    checkTopicName(name);
    if (!system && isSystemTopic(name)) {
      throw new BrokerError(
        'ILLEGAL_TOPIC',
        `topic names starting with ${SYSTEM_TOPIC_PREFIX} are reserved.`,
      );
    }
    const queues = options.queues ?? defaultQueues;
    if (!Number.isInteger(queues) || queues < 1 || queues > MAX_QUEUES) {
      throw new BrokerError(
        'BAD_REQUEST',
        `queues must be an integer from 1 to ${MAX_QUEUES}, got ${queues}.`,
      );
    }
    const type = options.type ?? 'NORMAL';
    if (!TOPIC_TYPES.includes(type)) {
      throw new BrokerError(
        'BAD_REQUEST',
        `topic type must be one of ${TOPIC_TYPES.join(', ')}, got ${type}.`,
      );
    }
    const existing = this.topics.get(name);
    if (existing && existing.queues > queues) {
      throw new BrokerError(
        'BAD_REQUEST',
        `topic ${name} has ${existing.queues} queues; the queue count can grow but not shrink.`,
      );
    }
    const info: TopicInfo = { name, queues, type };
    this.topics.set(name, info);
    this.save();
    return { ...info };
  }

  private save(): void {
    const table: Record<string, TopicConfigJson> = {};
    for (const t of this.topics.values()) {
      table[t.name] = {
        topicName: t.name,
        readQueueNums: t.queues,
        writeQueueNums: t.queues,
        perm: 6,
        attributes: { '+message.type': t.type },
      };
    }
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, JSON.stringify({ topicConfigTable: table }, null, 2));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }
}

/** Whether a topic of `topicType` accepts a message of `messageType`. */
export function acceptsMessageType(topicType: TopicType, messageType: MessageType): boolean {
  return topicType === 'MIXED' || topicType === messageType;
}
