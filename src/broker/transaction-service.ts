/**
 * TransactionService: half messages and their resolution.
 *
 * A transactional send appends the message to RMQ_SYS_TRANS_HALF_TOPIC (queue 0) with REAL_TOPIC,
 * REAL_QID, TRAN_MSG=true and the sender's client id (PGROUP); consumers cannot see it. The
 * transaction id is the half record's offset message id, so it names the record. Commit copies
 * the half record to its real topic and queue, then journals `tx commit`; rollback journals
 * `tx rollback`. Unresolved half messages are checked back through a producer's checker: first
 * `transactionTimeoutMs` after the half was stored (RocketMQ: 6 s), then every
 * `transactionCheckIntervalMs` (30 s), at most `transactionMaxChecks` (15) times, then rolled
 * back. Each check is journaled with its count (`tx check`), so counts and pending halves
 * survive restarts; the next check after a restart is due at store time + timeout + checks ×
 * interval. The checker is the sending producer's if it is still open, otherwise any open
 * producer with a checker that publishes the topic (or declared no topics).
 */
import type { StoredMessage } from '../store/types.js';
import type { BrokerCore } from './core.js';
import { BrokerError } from './errors.js';
import { toMessageView } from './message-view.js';
import { P_PRODUCER, P_REAL_QID, P_REAL_TOPIC, P_TRAN_MSG } from './properties.js';
import { type TransactionChecker, TransactionResolution } from './types.js';

interface Pending {
  physicalOffset: number;
  topic: string;
  producerId: string;
  storeTimestamp: number;
  checks: number;
  checking: boolean;
}

export interface CheckerSource {
  checkerFor(producerId: string, topic: string): TransactionChecker | undefined;
}

const MAX_RESOLVED_MEMORY = 100_000;

export class TransactionService {
  private readonly pending = new Map<number, Pending>();
  /** Recently resolved (in memory only): repeating the same resolution is OK. */
  private readonly resolved = new Map<number, 'commit' | 'rollback'>();
  private timer: NodeJS.Timeout | undefined;
  private checks = new Set<Promise<void>>();

  constructor(
    private readonly core: BrokerCore,
    private readonly checkers: CheckerSource,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** Register a half record (at run time after its append, at replay when scanned). */
  add(rec: StoredMessage, checks = 0): void {
    const props = rec.properties;
    this.pending.set(rec.physicalOffset, {
      physicalOffset: rec.physicalOffset,
      topic: props[P_REAL_TOPIC] ?? '',
      producerId: props[P_PRODUCER] ?? '',
      storeTimestamp: rec.storeTimestamp,
      checks,
      checking: false,
    });
  }

  /** Replay of a `tx` journal record. */
  applyJournal(p: number, r: 'commit' | 'rollback' | 'check', c?: number): void {
    const t = this.pending.get(p);
    if (r === 'check') {
      if (t && c !== undefined) t.checks = c;
      return;
    }
    this.pending.delete(p);
  }

  snapshot(): [number, number][] {
    return [...this.pending.values()].map((t) => [t.physicalOffset, t.checks]);
  }

  start(): void {
    const tick = Math.max(10, Math.min(1000, Math.floor(this.core.settings.transactionCheckIntervalMs / 4)));
    this.timer = setInterval(() => this.checkDue(), tick);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.checks]);
  }

  /** Commit or roll back the half message at `physicalOffset`. */
  async end(physicalOffset: number, resolution: 'commit' | 'rollback', topic?: string): Promise<void> {
    this.core.checkOpen();
    const t = this.pending.get(physicalOffset);
    if (t && topic !== undefined && t.topic !== topic) {
      throw new BrokerError(
        'INVALID_TRANSACTION_ID',
        `no pending transaction with this id on topic ${topic}.`,
      );
    }
    if (!t) {
      const prior = this.resolved.get(physicalOffset);
      if (prior === resolution) return;
      if (prior) {
        throw new BrokerError(
          'TRANSACTION_ALREADY_RESOLVED',
          `the transaction was already resolved by ${prior}.`,
        );
      }
      throw new BrokerError('INVALID_TRANSACTION_ID', 'no pending transaction with this id.');
    }
    const durables: Promise<void>[] = [];
    if (resolution === 'commit') {
      const rec = this.core.store.get(physicalOffset);
      if (rec) {
        const props = { ...rec.properties };
        const queueId = Number(props[P_REAL_QID] ?? 0);
        delete props[P_REAL_TOPIC];
        delete props[P_REAL_QID];
        delete props[P_TRAN_MSG];
        delete props[P_PRODUCER];
        const r = this.core.append({
          topic: t.topic,
          queueId,
          body: rec.body,
          properties: props,
          bornTimestamp: rec.bornTimestamp,
        });
        durables.push(this.core.durable(r));
      }
    }
    durables.push(this.core.journal({ op: 'tx', p: physicalOffset, r: resolution }));
    this.pending.delete(physicalOffset);
    this.remember(physicalOffset, resolution);
    await Promise.all(durables);
  }

  private remember(p: number, resolution: 'commit' | 'rollback'): void {
    this.resolved.set(p, resolution);
    if (this.resolved.size > MAX_RESOLVED_MEMORY) {
      const first = this.resolved.keys().next().value;
      if (first !== undefined) this.resolved.delete(first);
    }
  }

  private dueAt(t: Pending): number {
    const s = this.core.settings;
    return t.storeTimestamp + s.transactionTimeoutMs + t.checks * s.transactionCheckIntervalMs;
  }

  private checkDue(): void {
    if (this.core.closing) return;
    const now = Date.now();
    for (const t of this.pending.values()) {
      if (t.checking || this.dueAt(t) > now) continue;
      const run = this.checkOne(t).catch(() => {});
      this.checks.add(run);
      run.finally(() => this.checks.delete(run));
    }
  }

  private async checkOne(t: Pending): Promise<void> {
    if (t.checks >= this.core.settings.transactionMaxChecks) {
      await this.end(t.physicalOffset, 'rollback');
      return;
    }
    t.checking = true;
    try {
      const c = t.checks + 1;
      const done = this.core.journal({ op: 'tx', p: t.physicalOffset, r: 'check', c });
      t.checks = c;
      await done;
      const checker = this.checkers.checkerFor(t.producerId, t.topic);
      const rec = this.core.store.get(t.physicalOffset);
      if (!checker || !rec) return;
      const view = toMessageView(rec, t.topic, 1, '');
      const resolution = await checker.check(view, rec.msgId);
      if (!this.pending.has(t.physicalOffset)) return;
      if (resolution === TransactionResolution.COMMIT) await this.end(t.physicalOffset, 'commit');
      else if (resolution === TransactionResolution.ROLLBACK) await this.end(t.physicalOffset, 'rollback');
    } finally {
      t.checking = false;
    }
  }
}
