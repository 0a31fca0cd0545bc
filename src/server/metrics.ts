/**
 * Prometheus metrics of one server, in its own prom-client Registry (never the global one, so
 * several servers in one process keep separate figures).
 *
 * The message path only adds numbers: MessagingService calls the ServiceMetrics hook, which bumps
 * plain counters kept in nested Maps (no label objects, no string keys built per call). Everything
 * else — the counters' exposition, consumer lag and in-flight messages, store flush and dispatch
 * figures — is read when /metrics is scraped.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Broker } from '../broker/broker.js';
import { consumerLag } from '../broker/consumer-lag.js';
import type { StoreStats } from '../store/types.js';

/** What MessagingService reports (ServiceContext.metrics); every call is cheap. */
export interface ServiceMetrics {
  /** Messages stored by SendMessage. */
  sent(topic: string, messages: number, bytes: number): void;
  /** Messages handed out by ReceiveMessage. */
  received(group: string, topic: string, messages: number, bytes: number): void;
  /** Messages acknowledged by AckMessage. */
  acked(group: string, messages: number): void;
  /** One finished RPC: its v2 status code (or 'CANCELLED') and how long it took. */
  request(method: string, code: number | string, seconds: number): void;
}

/** A store stats() reading is reused for this long within one scrape. */
const STATS_REUSE_MS = 100;

interface Tally {
  messages: number;
  bytes: number;
}

const LATENCY_BUCKETS_S = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

export class ServerMetrics implements ServiceMetrics {
  readonly registry = new Registry();
  private readonly in = new Map<string, Tally>();
  private readonly out = new Map<string, Map<string, Tally>>();
  private readonly acks = new Map<string, Tally>();
  private readonly latency: Histogram<'method' | 'code'>;
  private readonly latencyLabels = new Map<string, Map<number | string, { method: string; code: string }>>();

  constructor(private readonly broker: Broker) {
    const registers = [this.registry];
    const self = this;
    collectDefaultMetrics({ register: this.registry });
    const tallies = (
      name: string,
      help: string,
      labelNames: string[],
      rows: () => Iterable<[Record<string, string>, number]>,
    ): void => {
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const [labels, value] of rows()) this.inc(labels, value);
        },
      });
    };
    const inRows = (field: keyof Tally) =>
      function* () {
        for (const [topic, t] of self.in) yield [{ topic }, t[field]] as [Record<string, string>, number];
      };
    const outRows = (field: keyof Tally) =>
      function* () {
        for (const [group, topics] of self.out)
          for (const [topic, t] of topics)
            yield [{ group, topic }, t[field]] as [Record<string, string>, number];
      };
    tallies('tidemq_messages_in_total', 'Messages stored by SendMessage.', ['topic'], inRows('messages'));
    tallies('tidemq_bytes_in_total', 'Body bytes stored by SendMessage.', ['topic'], inRows('bytes'));
    tallies(
      'tidemq_messages_out_total',
      'Messages delivered by ReceiveMessage (redeliveries count again).',
      ['group', 'topic'],
      outRows('messages'),
    );
    tallies(
      'tidemq_bytes_out_total',
      'Body bytes delivered by ReceiveMessage.',
      ['group', 'topic'],
      outRows('bytes'),
    );
    tallies('tidemq_messages_acked_total', 'Messages acknowledged by AckMessage.', ['group'], function* () {
      for (const [group, t] of self.acks) yield [{ group }, t.messages];
    });
    this.latency = new Histogram({
      name: 'tidemq_request_duration_seconds',
      help: 'gRPC request latency by method and apache.rocketmq.v2 status code (ReceiveMessage includes long polling).',
      labelNames: ['method', 'code'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.consumerGauges(registers);
    this.storeGauges(registers);
  }

  sent(topic: string, messages: number, bytes: number): void {
    let t = this.in.get(topic);
    if (!t) {
      t = { messages: 0, bytes: 0 };
      this.in.set(topic, t);
    }
    t.messages += messages;
    t.bytes += bytes;
  }

  received(group: string, topic: string, messages: number, bytes: number): void {
    let topics = this.out.get(group);
    if (!topics) {
      topics = new Map();
      this.out.set(group, topics);
    }
    let t = topics.get(topic);
    if (!t) {
      t = { messages: 0, bytes: 0 };
      topics.set(topic, t);
    }
    t.messages += messages;
    t.bytes += bytes;
  }

  acked(group: string, messages: number): void {
    let t = this.acks.get(group);
    if (!t) {
      t = { messages: 0, bytes: 0 };
      this.acks.set(group, t);
    }
    t.messages += messages;
  }

  request(method: string, code: number | string, seconds: number): void {
    let codes = this.latencyLabels.get(method);
    if (!codes) {
      codes = new Map();
      this.latencyLabels.set(method, codes);
    }
    let labels = codes.get(code);
    if (!labels) {
      labels = { method, code: String(code) };
      codes.set(code, labels);
    }
    this.latency.observe(labels, seconds);
  }

  /** The text exposition of every metric. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  /** Lag and in-flight messages per subscriber and topic, summed over queues, at scrape time. */
  private consumerGauges(registers: Registry[]): void {
    const broker = this.broker;
    const perTopic = (field: 'lag' | 'inflight') =>
      function (this: Gauge<'group' | 'topic'>): void {
        this.reset();
        if (broker.closing) return;
        const sums = new Map<string, { group: string; topic: string; value: number }>();
        for (const r of consumerLag(broker)) {
          const group = r.clientId === undefined ? r.group : `${r.group}#${r.clientId}`;
          const key = `${group}\n${r.topic}`;
          const s = sums.get(key);
          if (s) s.value += r[field];
          else sums.set(key, { group, topic: r.topic, value: r[field] });
        }
        for (const s of sums.values()) this.set({ group: s.group, topic: s.topic }, s.value);
      };
    new Gauge({
      name: 'tidemq_consumer_lag_messages',
      help: 'Messages of a topic not yet done by a consumer group: max offset − consumer offset, summed over queues.',
      labelNames: ['group', 'topic'],
      registers,
      collect: perTopic('lag'),
    });
    new Gauge({
      name: 'tidemq_consumer_inflight_messages',
      help: 'Messages delivered to a consumer group, not acked, and still invisible.',
      labelNames: ['group', 'topic'],
      registers,
      collect: perTopic('inflight'),
    });
  }

  /** Flush and dispatch figures of the message store, read from its stats() at scrape time. */
  private storeGauges(registers: Registry[]): void {
    const broker = this.broker;
    // One stats() reading serves every figure of a scrape.
    let cached: { atMs: number; stats: StoreStats } | undefined;
    const stats = (): StoreStats => {
      const now = Date.now();
      if (!cached || now - cached.atMs > STATS_REUSE_MS) cached = { atMs: now, stats: broker.store.stats() };
      return cached.stats;
    };
    const gauge = (name: string, help: string, value: (s: StoreStats) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          if (!broker.closing) this.set(value(stats()));
        },
      });
    const counter = (name: string, help: string, value: (s: StoreStats) => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          if (broker.closing) return;
          this.reset();
          this.inc(value(stats()));
        },
      });
    gauge('tidemq_store_written_bytes', 'Commit log write position (bytes).', (s) => s.wrotePosition);
    gauge(
      'tidemq_store_unflushed_bytes',
      'Commit log bytes written but not yet forced to disk (write position − flushed position).',
      (s) => s.wrotePosition - s.flushedPosition,
    );
    counter('tidemq_store_flushes_total', 'Commit log flushes (msync) completed.', (s) => s.flushes);
    counter('tidemq_store_flush_failures_total', 'Commit log flushes that failed.', (s) => s.flushFailures);
    counter(
      'tidemq_store_flush_seconds_total',
      'Time spent in commit log flushes (÷ flushes = average flush latency).',
      (s) => s.flushMsTotal / 1000,
    );
    gauge(
      'tidemq_store_last_flush_seconds',
      'Latency of the last commit log flush.',
      (s) => s.lastFlushMs / 1000,
    );
    gauge('tidemq_store_read_only', '1 when a failed flush made the store read-only.', (s) =>
      s.readOnly ? 1 : 0,
    );
    gauge('tidemq_store_disk_full', '1 when the disk is too full to accept writes.', (s) =>
      s.diskFull ? 1 : 0,
    );
    gauge(
      'tidemq_store_dispatch_lag_bytes',
      'Commit log bytes not yet visible through consume queues.',
      (s) => s.dispatchLagBytes,
    );
    gauge(
      'tidemq_store_dispatch_lag_seconds',
      'Age of the oldest record not yet dispatched (0 when none).',
      (s) => s.dispatchLagMs / 1000,
    );
    gauge(
      'tidemq_store_dispatch_records_per_second',
      'Records dispatched per second over the last second or so.',
      (s) => s.dispatchRecordsPerSecond,
    );
    gauge('tidemq_store_segments', 'Commit log segment files.', (s) => s.segments);
  }
}
