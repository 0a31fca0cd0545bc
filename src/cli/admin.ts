/**
 * `tidemq admin`: list and change topics, consumer groups, offsets and lag — on a stopped store
 * directory (--dir: the broker is opened directly) or on a running server (--server: its JSON
 * admin API on the metrics port). Both go through the same operations (server/admin.ts), so
 * they answer alike. Output is a table for people, or JSON with --json.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Broker } from '../broker/broker.js';
import type { QueueLag } from '../broker/consumer-lag.js';
import type { GroupInfo } from '../broker/group-registry.js';
import type { TopicInfo } from '../broker/types.js';
import { StoreError } from '../errors.js';
import {
  type ConfigureGroupRequest,
  configureGroup,
  createTopic,
  type GroupRow,
  lag,
  listGroups,
  listTopics,
  type ResetResult,
  resetOffset,
  type TopicRow,
} from '../server/admin.js';

/** An admin failure that is not a broker or store error (the server's answer, a bad target). */
export class AdminError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

export interface AdminTarget {
  topics(): Promise<TopicRow[]>;
  groups(): Promise<GroupRow[]>;
  lag(filter: { group?: string; topic?: string }): Promise<QueueLag[]>;
  createTopic(request: { name: string; queues?: number; type?: string }): Promise<TopicInfo>;
  resetOffset(request: { group: string; topic: string; to: string }): Promise<ResetResult>;
  configureGroup(request: ConfigureGroupRequest): Promise<GroupInfo>;
  close(): Promise<void>;
}

export interface TargetOptions {
  dir?: string;
  server?: string;
  /** Admin token of --server (Authorization: Bearer). */
  token?: string;
}

/** The broker of --dir, or the admin API of --server (exactly one). */
export async function openTarget(o: TargetOptions): Promise<AdminTarget> {
  if ((o.dir === undefined) === (o.server === undefined)) {
    throw new AdminError(
      'BAD_REQUEST',
      'give exactly one of --dir <store directory> (a stopped store) or --server http://host:<metrics-port> (a running server).',
    );
  }
  return o.dir !== undefined ? openDir(o.dir) : serverTarget(o.server!, o.token);
}

async function openDir(dir: string): Promise<AdminTarget> {
  if (!existsSync(path.join(dir, 'commitlog'))) {
    throw new AdminError('NO_STORE', `${dir} is not a tidemq store directory (it has no commitlog/).`);
  }
  let broker: Broker;
  try {
    broker = await Broker.open(dir, { store: { segmentBytes: segmentBytesOf(dir) } });
  } catch (err) {
    if (err instanceof StoreError && err.code === 'STORE_LOCKED') {
      throw new AdminError(
        'STORE_LOCKED',
        `the store in ${dir} is in use by a running server. Ask the server instead: ` +
          'tidemq admin --server http://<host>:<metrics-port> … (start it with --metrics-port).',
      );
    }
    throw err;
  }
  return {
    topics: async () => listTopics(broker),
    groups: async () => listGroups(broker),
    lag: async (filter) => lag(broker, filter),
    createTopic: async (request) => createTopic(broker, request),
    resetOffset: (request) => resetOffset(broker, request),
    configureGroup: (request) => configureGroup(broker, request),
    close: () => broker.close(),
  };
}

/**
 * The segment size the store was written with (its first segment file), unless
 * TIDEMQ_SEGMENT_BYTES says otherwise: opened with another size, a store's one short active
 * segment would be grown to that size and the server would no longer open it with its own.
 */
function segmentBytesOf(dir: string): number | undefined {
  if (process.env.TIDEMQ_SEGMENT_BYTES !== undefined) return undefined;
  const first = readdirSync(path.join(dir, 'commitlog'))
    .filter((f) => /^\d{20}$/.test(f))
    .sort()[0];
  return first === undefined ? undefined : statSync(path.join(dir, 'commitlog', first)).size;
}

function serverTarget(server: string, token: string | undefined): AdminTarget {
  let base: URL;
  try {
    base = new URL(/^https?:\/\//.test(server) ? server : `http://${server}`);
  } catch {
    throw new AdminError('BAD_REQUEST', `--server ${server} is not a URL: use http://host:<metrics-port>.`);
  }
  const call = async <T>(method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> => {
    const url = new URL(route, base);
    let res: Response;
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    try {
      res = await fetch(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new AdminError(
        'UNREACHABLE',
        `cannot reach the admin API at ${url.origin} (${(err as Error).cause ?? (err as Error).message}): ` +
          'is the server running with --metrics-port on that port?',
      );
    }
    const text = await res.text();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new AdminError(
        'BAD_ANSWER',
        `${url.href} answered ${res.status} with something that is not JSON.`,
      );
    }
    if (!res.ok) {
      const e = (value as { error?: { code?: string; message?: string } }).error;
      throw new AdminError(e?.code ?? `HTTP_${res.status}`, e?.message ?? `HTTP ${res.status}`);
    }
    return value as T;
  };
  const query = (params: Record<string, string | undefined>): string => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
    const s = q.toString();
    return s === '' ? '' : `?${s}`;
  };
  return {
    topics: () => call('GET', '/admin/topics'),
    groups: () => call('GET', '/admin/groups'),
    lag: (filter) => call('GET', `/admin/lag${query(filter)}`),
    createTopic: (request) => call('POST', '/admin/topics', request),
    resetOffset: (request) => call('POST', '/admin/offsets/reset', request),
    configureGroup: (request) => call('POST', '/admin/groups/configure', request),
    close: async () => {},
  };
}

// --- output ----------------------------------------------------------------------------------------

/** Columns padded to their widest cell; numbers right-aligned. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells: (string | number)[]) =>
    cells
      .map((c, i) => (typeof c === 'number' ? String(c).padStart(widths[i]!) : String(c).padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}

export function formatTopics(rows: TopicRow[]): string {
  if (rows.length === 0) return 'no topics\n';
  return table(
    ['TOPIC', 'TYPE', 'QUEUES', 'MESSAGES'],
    rows.map((t) => [t.name, t.type, t.queues, t.messages]),
  );
}

export function formatGroups(rows: GroupRow[]): string {
  if (rows.length === 0) return 'no consumer groups\n';
  const clients = rows.some((r) => r.clientId !== undefined);
  return table(
    [
      'GROUP',
      ...(clients ? ['CLIENT'] : []),
      'TOPICS',
      'LAG',
      'INFLIGHT',
      'MAX-ATTEMPTS',
      'FIFO',
      'RETRY-BACKOFF',
    ],
    rows.map((g) => [
      g.group,
      ...(clients ? [g.clientId ?? '-'] : []),
      g.topics.join(',') || '-',
      g.lag,
      g.inflight,
      g.maxDeliveryAttempts,
      fifoText(g.fifo),
      backoffText(g.retryBackoffMs),
    ]),
  );
}

/** One group's settings, as configure-group prints them. */
export function formatGroupSettings(g: GroupInfo): string {
  return (
    `group ${g.name}${g.configured ? '' : ' (broker defaults)'}: max delivery attempts ${g.maxDeliveryAttempts}, ` +
    `fifo ${fifoText(g.fifo)}, retry backoff ${backoffText(g.retryBackoffMs)} ms\n`
  );
}

function fifoText(fifo: boolean | undefined): string {
  return fifo === undefined ? 'topic' : fifo ? 'yes' : 'no';
}

/** At most 6 delays, then an ellipsis. */
function backoffText(ms: number[]): string {
  return ms.length <= 6 ? ms.join(',') : `${ms.slice(0, 6).join(',')},…(${ms.length})`;
}

export function formatLag(rows: QueueLag[]): string {
  if (rows.length === 0) return 'no consumer offsets\n';
  const total = rows.reduce((s, r) => s + r.lag, 0);
  const inflight = rows.reduce((s, r) => s + r.inflight, 0);
  const rowsText = table(
    ['GROUP', 'TOPIC', 'QUEUE', 'CONSUMER-OFFSET', 'MAX-OFFSET', 'LAG', 'INFLIGHT'],
    rows.map((r) => [
      r.clientId === undefined ? r.group : `${r.group}#${r.clientId}`,
      r.topic,
      r.queueId,
      r.consumerOffset,
      r.maxOffset,
      r.lag,
      r.inflight,
    ]),
  );
  return `${rowsText}total lag ${total}, in flight ${inflight}\n`;
}

export function formatTopic(t: TopicInfo): string {
  return `topic ${t.name}: ${t.queues} queue${t.queues === 1 ? '' : 's'}, ${t.type}\n`;
}

export function formatReset(r: ResetResult): string {
  const to = typeof r.to === 'number' ? new Date(r.to).toISOString() : r.to;
  return `group ${r.group} reset on topic ${r.topic} to ${to}\n${formatLag(r.queues)}`;
}
