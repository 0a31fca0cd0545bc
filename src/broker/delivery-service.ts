/**
 * DeliveryService: POP consumption. receive() picks messages, makes them invisible and hands
 * out receipt handles; ack() finishes them; changeInvisibleDuration() moves their visibility
 * and replaces the handle. A message whose invisible time ran out is delivered again with
 * deliveryAttempt + 1 and a new handle; one that already had maxDeliveryAttempts deliveries is
 * moved to %DLQ%<group> instead. Every change is a journal record (consumer-state.ts).
 *
 * Per receive and queue, in offset order: first the queue's entries (messages not done), then
 * fresh messages from `next`. FIFO: a message group with a message in flight (invisible) is
 * blocked; at most one message per group is handed out per receive; a fresh message of a
 * blocked group is held (an entry with attempt 0) and goes out, in order, once the group frees.
 * PRIORITY topics: candidates from a window of each queue are ranked by priority (then store
 * time) across queues; fresh candidates not chosen are held.
 */

import { Deferred } from '../deferred.js';
import type { StoredMessage } from '../store/types.js';
import {
  AckedOffsets,
  ackRecord,
  type HeldTuple,
  type JournalRecord,
  type QueueProgress,
} from './consumer-state.js';
import type { BrokerCore } from './core.js';
import { BrokerError } from './errors.js';
import {
  type DeliveryView,
  FreshViews,
  formatHandle,
  HandleFormat,
  type ParsedHandle,
  parseHandle,
  pendingView,
  readHandleParts,
} from './message-view.js';
import { P_MESSAGE_GROUP, P_ORIGIN_TOPIC, P_PRIORITY } from './properties.js';
import { DONE, OWN, type Run } from './queue-progress.js';
import type { SqlPredicate } from './sql-filter.js';
import type { MessageView } from './types.js';

const READ_BATCH = 256;
const FRESH_SCAN_LIMIT = 4096;
const PRIORITY_WINDOW = 256;
const MAX_HELD_PER_QUEUE = 100_000;
const MAX_POLL_SLICE_MS = 1000;
const NO_RUNS: readonly Run[] = [];
export const MAX_BATCH = 1024;

export interface Subscription {
  topic: string;
  /** Tag filter; undefined matches every tag. */
  filter: Set<string> | undefined;
  /** SQL92 filter over the properties (instead of a tag filter). */
  sql?: SqlPredicate;
}

export interface SubscriberSpec {
  /** State key: the group (clustering) or group#clientId (broadcasting). */
  key: string;
  group: string;
  subscriptions: Subscription[];
  /** Resolved at each use: the consumer's option, else the group's configuration, else the default. */
  /** undefined: FIFO exactly for FIFO topics. */
  readonly fifo: boolean | undefined;
  readonly maxDeliveryAttempts: number;
  readonly retryBackoffMs: readonly number[];
}

interface Pick {
  offset: number;
  rec: StoredMessage;
  attempt: number;
  group: string | null;
  priority: number | null;
  fresh: boolean;
}

/** What one pass found in one queue. Hot-path objects are classes, not literals: see deferred.ts. */
class QueueHarvest {
  /** Redeliveries, and fresh picks of FIFO and PRIORITY reads, in offset order … */
  picks: Pick[] = [];
  /**
   * … then fresh first deliveries of plain reads (attempt 1, no group, no priority): no Pick
   * each, their views made at once (deliver() gives them their handles).
   */
  fresh: DeliveryView[] = [];
  readonly held: HeldTuple[] = [];
  constructor(
    readonly topic: string,
    readonly queueId: number,
    readonly qp: QueueProgress,
    public next: number,
  ) {}
}

/** Acks of one subscriber's queue not journaled yet; `promise` settles once they are durable. */
class PendingAcks extends Deferred<void> {
  readonly offsets = new AckedOffsets();
  constructor(
    readonly s: string,
    readonly t: string,
    readonly q: number,
    /** An ack among them may free a message for a parked receive (see acksFree). */
    readonly wake: boolean,
  ) {
    super();
  }
}

/** The acks of one batch that fall in one queue. */
interface AckGroup {
  t: string;
  q: number;
  qp: QueueProgress;
  offsets: AckedOffsets;
}

/** One receive pass: its views, their journal records' durability, what to wait for next. */
class Attempt {
  views: MessageView[] = [];
  readonly durables: Promise<void>[] = [];
  readonly waits: [string, number, number][] = [];
  nextVisibleAt = Number.POSITIVE_INFINITY;
}

export class DeliveryService {
  private readonly wakers = new Map<string, Set<() => void>>();
  /** Bumped by every wake, so a wake between a pass and its wait is not lost. */
  private readonly generations = new Map<string, number>();
  private rotation = 0;
  /** Store long-poll waiters shared by parked receives (see watch). */
  private readonly storeWaits = new Map<string, Promise<boolean>>();
  /** Acks not journaled yet, by subscriber + topic + queue (see ack). */
  private readonly pendingAcks = new Map<string, PendingAcks>();

  constructor(private readonly core: BrokerCore) {}

  wake(subscriber: string): void {
    this.generations.set(subscriber, (this.generations.get(subscriber) ?? 0) + 1);
    const ws = this.wakers.get(subscriber);
    if (!ws) return;
    this.wakers.delete(subscriber);
    for (const w of ws) w();
  }

  wakeAll(): void {
    for (const key of [...this.wakers.keys()]) this.wake(key);
  }

  checkInvisible(ms: unknown): asserts ms is number {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > this.core.settings.maxInvisibleMs) {
      throw new BrokerError(
        'ILLEGAL_INVISIBLE_TIME',
        `invisible duration must be 0..${this.core.settings.maxInvisibleMs} ms, got ${String(ms)}.`,
      );
    }
  }

  async receive(
    spec: SubscriberSpec,
    max: number,
    invisibleMs: number,
    awaitMs: number,
    cancelled: () => boolean = () => false,
  ): Promise<MessageView[]> {
    this.core.checkOpen();
    if (!Number.isInteger(max) || max < 1 || max > MAX_BATCH) {
      throw new BrokerError(
        'BAD_REQUEST',
        `maxMessageNum must be an integer from 1 to ${MAX_BATCH}, got ${max}.`,
      );
    }
    this.checkInvisible(invisibleMs);
    const deadline = Date.now() + Math.max(0, awaitMs);
    for (;;) {
      const generation = this.generations.get(spec.key) ?? 0;
      const r = this.tryReceive(spec, max, invisibleMs);
      // Not waited for: a pop (or a filtered/dead-lettered ack) lost to a crash only makes
      // its messages visible again — the at-least-once contract. Acks are waited for, and an
      // ack record, appended later, is durable only once everything before it is.
      for (const d of r.durables) d.catch(noop);
      if (r.views.length > 0) return r.views;
      const now = Date.now();
      if (now >= deadline || this.core.closing || cancelled()) return [];
      if ((this.generations.get(spec.key) ?? 0) !== generation) continue;
      await this.waitForWork(spec.key, r.waits, Math.min(deadline, r.nextVisibleAt) - now);
    }
  }

  private waitForWork(key: string, waits: [string, number, number][], ms: number): Promise<void> {
    const slice = Math.max(1, Math.min(ms, MAX_POLL_SLICE_MS));
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.wakers.get(key)?.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, slice);
      let ws = this.wakers.get(key);
      if (!ws) {
        ws = new Set();
        this.wakers.set(key, ws);
      }
      ws.add(finish);
      for (const [t, q, n] of waits) {
        this.watch(t, q, n).then((ok) => {
          if (ok) finish();
        }, finish);
      }
    });
  }

  /**
   * The store's long-poll primitive, shared: every receive parked on the same (topic, queue,
   * offset) waits on one store waiter. The store cannot cancel a waiter, so without sharing each
   * parked pass would leave one per queue behind until its timeout, and the store walks them all
   * on every dispatch.
   */
  private watch(topic: string, queueId: number, offset: number): Promise<boolean> {
    const key = `${topic}\u0000${queueId}\u0000${offset}`;
    let p = this.storeWaits.get(key);
    if (p === undefined) {
      const w = this.core.reader.waitForMessages(topic, queueId, offset, MAX_POLL_SLICE_MS);
      const drop = (): void => {
        if (this.storeWaits.get(key) === w) this.storeWaits.delete(key);
      };
      w.then(drop, drop);
      this.storeWaits.set(key, w);
      p = w;
    }
    return p;
  }

  /** One synchronous pass over the subscriptions: pick, journal, build views. */
  private tryReceive(spec: SubscriberSpec, max: number, invisibleMs: number): Attempt {
    // Pending acks first: a message acked a moment ago must not be picked again because its
    // invisible time ran out meanwhile.
    this.flushAcks();
    const core = this.core;
    const now = Date.now();
    const attempt = new Attempt();
    const subs = spec.subscriptions;
    const start = this.rotation++;
    for (let i = 0; i < subs.length && attempt.views.length < max; i++) {
      const sub = subs[(start + i) % subs.length]!;
      const info = core.topic(sub.topic);
      if (!info) continue;
      const fifo = spec.fifo ?? info.type === 'FIFO';
      const priority = info.type === 'PRIORITY';
      const want = max - attempt.views.length;
      const harvests: QueueHarvest[] = [];
      let collected = 0;
      for (let j = 0; j < info.queues; j++) {
        if (!priority && collected >= want) break;
        const q = (start + j) % info.queues;
        const limit = priority ? Math.max(want, PRIORITY_WINDOW) : want - collected;
        const h = this.collect(spec, sub, q, fifo, priority, limit, now, attempt);
        collected += h.picks.length + h.fresh.length;
        harvests.push(h);
      }
      if (priority) rankByPriority(harvests, want);
      for (const h of harvests) this.deliver(spec, h, now + invisibleMs, attempt);
    }
    return attempt;
  }

  private collect(
    spec: SubscriberSpec,
    sub: Subscription,
    queueId: number,
    fifo: boolean,
    priority: boolean,
    limit: number,
    now: number,
    attempt: Attempt,
  ): QueueHarvest {
    const { reader, state } = this.core;
    const topic = sub.topic;
    const qp = state.progress(spec.key, topic, queueId, () => reader.minOffset(topic, queueId));
    const minOffset = reader.minOffset(topic, queueId);
    if (qp.next < minOffset) qp.next = minOffset;
    const h = new QueueHarvest(topic, queueId, qp, qp.next);
    const maxAttempts = spec.maxDeliveryAttempts;
    const blocked = new Set<string>();
    const gone: number[] = [];
    const dead: StoredMessage[] = [];
    const readable = qp.size > 0 ? reader.maxOffset(topic, queueId) : 0;
    let waitingForDispatch = false;
    const runs = qp.size > 0 ? qp.liveRuns() : NO_RUNS;
    entries: for (let r = 0; r < runs.length; r++) {
      const run = runs[r]!;
      if (run.live === 0) continue;
      // A batch still in flight as delivered (no message of it diverged): skipped whole.
      if (run.owned === 0 && run.visibleAt > now) {
        if (run.visibleAt < attempt.nextVisibleAt) attempt.nextVisibleAt = run.visibleAt;
        continue;
      }
      const flags = run.flags;
      for (let i = 0; i < run.count; i++) {
        const f = flags[i];
        if (f === DONE) continue;
        if (h.picks.length >= limit) break entries;
        const o = run.first + i;
        const e = f === OWN ? run.own!.get(o)! : undefined;
        const group = e === undefined ? null : e.group;
        const visibleAt = e === undefined ? run.visibleAt : e.visibleAt;
        if (fifo && group !== null && blocked.has(group)) continue;
        if (visibleAt > now) {
          if (fifo && group !== null) blocked.add(group);
          if (visibleAt < attempt.nextVisibleAt) attempt.nextVisibleAt = visibleAt;
          continue;
        }
        if (o >= readable) {
          // Not dispatched yet (after a restart the consume queues are rebuilt from the log):
          // wait for it; it is not gone. In FIFO it still holds back its group.
          if (fifo && group !== null) blocked.add(group);
          if (!waitingForDispatch) {
            waitingForDispatch = true;
            attempt.waits.push([topic, queueId, o]);
          }
          continue;
        }
        const rec = o < minOffset ? undefined : reader.read(topic, queueId, o, 1)[0];
        if (!rec || rec.queueOffset !== o || !matches(sub, rec)) {
          gone.push(o);
          continue;
        }
        const tries = e === undefined ? 1 : e.attempt;
        if (tries >= maxAttempts) {
          dead.push(rec);
          continue;
        }
        h.picks.push({
          offset: o,
          rec,
          attempt: tries + 1,
          group,
          priority: e === undefined ? null : e.priority,
          fresh: false,
        });
        if (fifo && group !== null) blocked.add(group);
      }
    }
    // unfiltered: read no more than can be picked (the rest would be decoded for nothing)
    const unfiltered = sub.filter === undefined && sub.sql === undefined && !fifo;
    const plain = !fifo && !priority;
    if (plain && unfiltered && reader.readWith !== undefined) this.collectFresh(h, limit);
    else this.collectFiltered(h, sub, fifo, priority, limit, blocked);
    attempt.waits.push([topic, queueId, h.next]);
    if (dead.length > 0) this.deadLetter(spec, topic, dead);
    if (gone.length > 0 || dead.length > 0) {
      const o = [...gone, ...dead.map((r) => r.queueOffset)];
      attempt.durables.push(this.core.journal(ackRecord(spec.key, topic, queueId, o)));
    }
    return h;
  }

  /**
   * Fresh messages of a plain read with no filter: each one read is picked, so its view is made
   * straight from the log (QueueReader.readWith), and a read that fills the harvest is kept as
   * its array.
   */
  private collectFresh(h: QueueHarvest, limit: number): void {
    const reader = this.core.reader;
    const make = new FreshViews(h.topic).make;
    let fresh = h.fresh;
    let picked = h.picks.length;
    let scanned = 0;
    while (picked < limit && scanned < FRESH_SCAN_LIMIT && h.qp.size < MAX_HELD_PER_QUEUE) {
      const batch = reader.readWith!(h.topic, h.queueId, h.next, Math.min(READ_BATCH, limit - picked), make);
      if (batch.length === 0) break;
      if (fresh.length === 0 && batch[0]!.offset >= h.next && ascending(batch)) {
        fresh = batch;
        h.fresh = batch;
        picked += batch.length;
        scanned += batch.length;
        h.next = batch[batch.length - 1]!.offset + 1;
        continue;
      }
      for (let b = 0; b < batch.length; b++) {
        const view = batch[b]!;
        if (view.offset < h.next) continue;
        h.next = view.offset + 1;
        scanned++;
        picked++;
        fresh.push(view);
      }
    }
  }

  /** Fresh messages through a filter, or of a FIFO or PRIORITY read (from the records). */
  private collectFiltered(
    h: QueueHarvest,
    sub: Subscription,
    fifo: boolean,
    priority: boolean,
    limit: number,
    blocked: Set<string>,
  ): void {
    const reader = this.core.reader;
    const { topic, queueId, qp } = h;
    const unfiltered = sub.filter === undefined && sub.sql === undefined && !fifo;
    const plain = !fifo && !priority;
    const fresh = h.fresh;
    let picked = h.picks.length;
    let scanned = 0;
    outer: while (picked < limit && scanned < FRESH_SCAN_LIMIT && qp.size < MAX_HELD_PER_QUEUE) {
      const batch = reader.read(
        topic,
        queueId,
        h.next,
        unfiltered ? Math.min(READ_BATCH, limit - picked) : READ_BATCH,
      );
      if (batch.length === 0) break;
      for (let b = 0; b < batch.length; b++) {
        const rec = batch[b]!;
        if (rec.queueOffset < h.next) continue;
        if (picked >= limit) break outer;
        h.next = rec.queueOffset + 1;
        scanned++;
        if (!matches(sub, rec)) continue;
        picked++;
        if (plain) {
          fresh.push(pendingView(rec, topic, 1));
          continue;
        }
        // properties are decoded only when FIFO or priority needs them
        const group = fifo ? (rec.properties[P_MESSAGE_GROUP] ?? null) : null;
        const prio = priority ? Number(rec.properties[P_PRIORITY] ?? 0) : null;
        if (group !== null && blocked.has(group)) {
          picked--;
          h.held.push([rec.queueOffset, group, prio]);
          continue;
        }
        h.picks.push({ offset: rec.queueOffset, rec, attempt: 1, group, priority: prio, fresh: true });
        if (group !== null) blocked.add(group);
      }
    }
  }

  /**
   * Copy messages to %DLQ%<group> (same message id, body, properties). The caller journals the
   * ack right after: records seal in log order, so its durability covers the copies.
   */
  private deadLetter(spec: SubscriberSpec, topic: string, recs: StoredMessage[]): void {
    const dlq = `%DLQ%${spec.group}`;
    this.core.ensureTopic(dlq, { queues: 1, type: 'MIXED' }, true);
    for (const rec of recs) {
      this.core.append({
        topic: dlq,
        queueId: 0,
        body: rec.body,
        properties: { ...rec.properties, [P_ORIGIN_TOPIC]: topic },
        bornTimestamp: rec.bornTimestamp,
        reconsumeTimes: spec.maxDeliveryAttempts,
      });
    }
  }

  private deliver(spec: SubscriberSpec, h: QueueHarvest, visibleAt: number, attempt: Attempt): void {
    const picks = h.picks;
    const fresh = h.fresh;
    if (picks.length === 0 && fresh.length === 0 && h.held.length === 0) {
      h.qp.next = Math.max(h.qp.next, h.next);
      return;
    }
    const first = this.core.state.handleSeq + 1;
    const rec: JournalRecord = {
      op: 'pop',
      s: spec.key,
      t: h.topic,
      q: h.queueId,
      n: h.next,
      v: visibleAt,
      d: [],
      p: h.held,
    };
    if (h.held.length === 0 && isPlainRun(picks, fresh)) {
      rec.r = [picks.length > 0 ? picks[0]!.offset : fresh[0]!.offset, picks.length + fresh.length, first];
    } else {
      for (let i = 0; i < picks.length; i++) {
        const p = picks[i]!;
        rec.d.push([p.offset, p.attempt, first + i, p.group, p.priority]);
      }
      for (let i = 0; i < fresh.length; i++) {
        rec.d.push([fresh[i]!.offset, 1, first + picks.length + i, null, null]);
      }
    }
    attempt.durables.push(this.core.journal(rec));
    const format = new HandleFormat(h.topic, h.queueId);
    const n = picks.length;
    for (let i = 0; i < n; i++) format.add(first + i, picks[i]!.offset);
    for (let i = 0; i < fresh.length; i++) format.add(first + n + i, fresh[i]!.offset);
    format.seal();
    const views = attempt.views;
    for (let i = 0; i < n; i++) {
      const p = picks[i]!;
      const view = pendingView(p.rec, h.topic, p.attempt);
      view.issue(first + i, format.handle(i));
      views.push(view);
    }
    for (let i = 0; i < fresh.length; i++) fresh[i]!.issue(first + n + i, format.handle(n + i));
    // the fresh array is ours (made by the read or collect): the first harvest's becomes the result
    if (views.length === 0) {
      attempt.views = fresh;
      return;
    }
    for (let i = 0; i < fresh.length; i++) views.push(fresh[i]!);
  }

  private entryFor(spec: SubscriberSpec, handle: string | ParsedHandle): ParsedHandle {
    const h = typeof handle === 'string' ? parseHandle(handle) : handle;
    const qp = this.core.state.get(spec.key, h.topic, h.queueId);
    if (qp === undefined || !this.isCurrent(spec, qp, h)) throw staleHandle();
    return h;
  }

  /** The handle names the delivery in flight now (not acked, not redelivered, not acked in this tick). */
  private isCurrent(spec: SubscriberSpec, qp: QueueProgress, h: ParsedHandle): boolean {
    // (-1 is what deliveredHandle says of a held, done or never-delivered offset)
    if (h.seq < 0 || qp.deliveredHandle(h.offset) !== h.seq) return false;
    return (
      this.pendingAcks.size === 0 ||
      this.pendingAcks.get(this.ackKey(spec.key, h.topic, h.queueId))?.offsets.has(h.offset) !== true
    );
  }

  /**
   * Acks are validated at once and journaled together: every ack made in the same synchronous run
   * (a consumer acking a received batch in a loop) becomes one journal record per queue, appended
   * in a microtask — or earlier, before any other journal record or snapshot (flushAcks), so the
   * log keeps the order of the calls. Each resolves once its record is durable.
   */
  ack(spec: SubscriberSpec, handle: string | ParsedHandle): Promise<void> {
    let h: ParsedHandle;
    try {
      this.core.checkOpen();
      h = this.entryFor(spec, handle);
    } catch (err) {
      return Promise.reject(err);
    }
    const key = this.ackKey(spec.key, h.topic, h.queueId);
    let p = this.pendingAcks.get(key);
    if (!p) {
      const wake = this.acksFree(spec, h.topic, this.core.state.get(spec.key, h.topic, h.queueId));
      p = new PendingAcks(spec.key, h.topic, h.queueId, wake);
      this.pendingAcks.set(key, p);
      if (this.pendingAcks.size === 1) queueMicrotask(() => this.flushAcks());
    }
    p.offsets.add(h.offset);
    return p.promise;
  }

  /**
   * Ack several deliveries at once: all or nothing — every handle is checked first (malformed,
   * stale, or named twice: INVALID_RECEIPT_HANDLE, nothing is journaled); then one ack record
   * per queue. Resolves once every record is durable.
   */
  ackBatch(spec: SubscriberSpec, messages: readonly unknown[]): Promise<void> {
    const queues: AckGroup[] = [];
    try {
      this.core.checkOpen();
      const state = this.core.state;
      const h = this.scratch;
      let last: AckGroup | undefined;
      for (let i = 0; i < messages.length; i++) {
        readHandleParts(messages[i], h);
        if (last === undefined || last.t !== h.topic || last.q !== h.queueId) {
          last = queues.find((g) => g.t === h.topic && g.q === h.queueId);
          if (last === undefined) {
            const qp = state.get(spec.key, h.topic, h.queueId);
            if (qp === undefined) throw staleIn(messages, i + 1);
            last = { t: h.topic, q: h.queueId, qp, offsets: new AckedOffsets() };
            queues.push(last);
          }
        }
        if (!this.isCurrent(spec, last.qp, h)) throw staleIn(messages, i + 1);
        if (last.offsets.has(h.offset)) {
          checkHandles(messages, i + 1);
          throw new BrokerError(
            'INVALID_RECEIPT_HANDLE',
            `handle ${i} of the batch names a message already in it (${h.topic} queue ${h.queueId} offset ${h.offset}); nothing was acked.`,
          );
        }
        last.offsets.add(h.offset);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    if (queues.length === 0) return Promise.resolve();
    let wake = false;
    for (const g of queues) if (this.acksFree(spec, g.t, g.qp)) wake = true;
    const done: Promise<void>[] = [];
    try {
      for (const g of queues) done.push(this.core.journal(g.offsets.record(spec.key, g.t, g.q)));
    } catch (err) {
      return Promise.reject(err);
    }
    if (wake) this.wake(spec.key);
    return done.length === 1 ? done[0]! : Promise.all(done).then(noop);
  }

  /** Handle parts of the message ackBatch looks at (filled in place: no object per message). */
  private readonly scratch: ParsedHandle = { seq: 0, queueId: 0, offset: 0, topic: '' };

  /** The pendingAcks key of a queue; the last one is kept (acks of a batch share it). */
  private ackKey(subscriber: string, topic: string, queueId: number): string {
    const k = this.lastAckKey;
    if (k.s === subscriber && k.t === topic && k.q === queueId) return k.key;
    k.s = subscriber;
    k.t = topic;
    k.q = queueId;
    k.key = `${subscriber}\u0000${topic}\u0000${queueId}`;
    return k.key;
  }

  private readonly lastAckKey = { s: '', t: '', q: -1, key: '' };

  /** Journal the pending acks now (one record per subscriber and queue). */
  flushAcks(): void {
    if (this.pendingAcks.size === 0) return;
    const groups = [...this.pendingAcks.values()];
    this.pendingAcks.clear();
    for (const p of groups) {
      try {
        this.core.journal(p.offsets.record(p.s, p.t, p.q)).then(p.resolve, p.reject);
      } catch (err) {
        p.reject(err);
      }
      if (p.wake) this.wake(p.s);
    }
  }

  /**
   * Whether acking messages of (topic, queue) can make a message deliverable that was not: it
   * frees a FIFO message group, or room under the queue's cap on messages in flight. Otherwise
   * (a plain queue under its cap) waking the subscriber's parked receives would only make each
   * of them pass over the queues for nothing and park again — every ack of a consumer that
   * receives in several concurrent loops.
   */
  private acksFree(spec: SubscriberSpec, topic: string, qp: QueueProgress | undefined): boolean {
    if (qp === undefined || qp.size >= MAX_HELD_PER_QUEUE) return true;
    return spec.fifo ?? this.core.topic(topic)?.type === 'FIFO';
  }

  /** Invisible for `ms` from now; returns the new receipt handle (the old one is stale). */
  async changeInvisibleDuration(spec: SubscriberSpec, handle: string, ms: number): Promise<string> {
    this.core.checkOpen();
    this.checkInvisible(ms);
    const h = this.entryFor(spec, handle);
    const seq = this.core.state.handleSeq + 1;
    const v = Date.now() + ms;
    const done = this.core.journal({
      op: 'vis',
      s: spec.key,
      t: h.topic,
      q: h.queueId,
      o: h.offset,
      v,
      h: seq,
    });
    this.wake(spec.key);
    await done;
    return formatHandle(seq, h.topic, h.queueId, h.offset);
  }

  /**
   * Keep a delivered message invisible for `ms` more from now under the same receipt handle (a
   * lease renewal: the consumer still holds the handle it was given).
   */
  async renew(spec: SubscriberSpec, handle: string, ms: number): Promise<void> {
    this.core.checkOpen();
    this.checkInvisible(ms);
    const h = this.entryFor(spec, handle);
    const v = Date.now() + ms;
    await this.core.journal({ op: 'vis', s: spec.key, t: h.topic, q: h.queueId, o: h.offset, v, h: h.seq });
  }

  /**
   * Move a delivered message to %DLQ%<group> now (a consumer gave up on it) and finish it for
   * the subscriber, which frees its FIFO message group. Idempotent: a message that is already
   * done (acked or dead-lettered) is left alone, whatever handle names it.
   */
  async forwardToDeadLetter(spec: SubscriberSpec, handle: string): Promise<void> {
    this.core.checkOpen();
    const h = parseHandle(handle);
    try {
      // Done, acked in this tick, or redelivered under a newer handle: not this caller's to move.
      this.entryFor(spec, h);
    } catch {
      return;
    }
    const rec = this.core.reader.read(h.topic, h.queueId, h.offset, 1)[0];
    if (rec && rec.queueOffset === h.offset) this.deadLetter(spec, h.topic, [rec]);
    const done = this.core.journal({ op: 'ack', s: spec.key, t: h.topic, q: h.queueId, o: [h.offset] });
    this.wake(spec.key);
    await done;
  }
}

function noop(): void {}

/** A malformed handle from `from` on is reported before a stale or repeated one (as it always was). */
function checkHandles(messages: readonly unknown[], from: number): void {
  const parts: ParsedHandle = { seq: 0, queueId: 0, offset: 0, topic: '' };
  for (let i = from; i < messages.length; i++) readHandleParts(messages[i], parts);
}

function staleIn(messages: readonly unknown[], from: number): BrokerError {
  checkHandles(messages, from);
  return staleHandle();
}

function staleHandle(): BrokerError {
  return new BrokerError(
    'INVALID_RECEIPT_HANDLE',
    'the receipt handle is stale: the message was acked, redelivered with a new handle, or given a new handle by changeInvisibleDuration.',
  );
}

/**
 * First deliveries of consecutive offsets, no message group, no priority (a DeliveredRange): the
 * picks (if any, all such) then the fresh records.
 */
function isPlainRun(picks: Pick[], fresh: DeliveryView[]): boolean {
  const n = picks.length;
  if (n + fresh.length === 0) return false;
  const first = n > 0 ? picks[0]!.offset : fresh[0]!.offset;
  for (let i = 0; i < n; i++) {
    const p = picks[i]!;
    if (!p.fresh || p.attempt !== 1 || p.group !== null || p.priority !== null || p.offset !== first + i)
      return false;
  }
  for (let i = 0; i < fresh.length; i++) if (fresh[i]!.offset !== first + n + i) return false;
  return true;
}

/** Offsets strictly increasing (a read's, always, unless the log holds a misplaced record). */
function ascending(views: readonly DeliveryView[]): boolean {
  for (let i = 1; i < views.length; i++) if (views[i]!.offset <= views[i - 1]!.offset) return false;
  return true;
}

function matches(sub: Subscription, rec: StoredMessage): boolean {
  if (sub.sql !== undefined) return sub.sql(rec.properties);
  const filter = sub.filter;
  if (!filter) return true;
  const tag = rec.tags;
  return tag !== undefined && filter.has(tag);
}

/** Keep the `want` best picks across the queues of a PRIORITY topic; hold the fresh rest. */
function rankByPriority(harvests: QueueHarvest[], want: number): void {
  const all: [Pick, QueueHarvest][] = [];
  for (const h of harvests) for (const p of h.picks) all.push([p, h]);
  all.sort(
    (a, b) =>
      (b[0].priority ?? 0) - (a[0].priority ?? 0) || a[0].rec.storeTimestamp - b[0].rec.storeTimestamp,
  );
  const keep = new Set(all.slice(0, want).map((x) => x[0]));
  for (const h of harvests) {
    const kept: Pick[] = [];
    for (const p of h.picks) {
      if (keep.has(p)) kept.push(p);
      else if (p.fresh) h.held.push([p.offset, p.group, p.priority]);
    }
    h.picks = kept;
    h.held.sort((a, b) => a[0] - b[0]);
  }
}
