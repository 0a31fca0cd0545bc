/**
 * The embedded broker (issue 5), in-process:
 * - e2e: producer.send → simpleConsumer.receive (batched) → ack, all on one event loop (param
 *   `api`: 'message' = send() and ack() per message; 'batch' = sendBatch() of each slice and one
 *   ackBatch() per received batch, what a gRPC request with repeated entries carries). Phase 1
 *   runs flat out and measures acked messages per second; phase 2 sends at half that rate,
 *   one slice every millisecond (open loop), and times each message from when it was due to the moment
 *   receive() hands it to the consumer.
 * - delay burst: N timed messages due within the same second (RocketMQ users report minutes of
 *   lateness for such bursts, apache/rocketmq#6566); lateness = time each message became
 *   readable in its topic minus its due time, and the time until the last one was readable.
 */
import {
  constants,
  monitorEventLoopDelay,
  type PerformanceEntry,
  PerformanceObserver,
  performance,
} from 'node:perf_hooks';
import { Broker } from '../../src/broker/broker.js';
import { MAX_SEND_BATCH } from '../../src/broker/producer.js';
import type { MessageView, SendMessage } from '../../src/broker/types.js';
import { LatencyRecorder } from '../histogram.js';
import { mainThreadCpuUs, nowNs } from '../measure.js';
import { num } from '../outcome.js';
import type { ScenarioOutcome, ScenarioSpec } from '../spec.js';
import { makeBody } from '../store-api.js';
import { lighterLoads, type PacedPipeline, phaseMs, tick, timedAt } from './paced.js';

const topic = 'bench';
const group = 'bench-group';

interface Flow {
  sent: number;
  received: number;
  acked: number;
  duplicates: number;
  /** sends may not run further ahead of acks than this */
  window: number;
  stop: boolean;
}

/** The main thread's garbage collections between start() and stop(). */
class GcTally {
  full = 0;
  pauseMs = 0;
  maxPauseMs = 0;
  private readonly observer = new PerformanceObserver((list) => this.add(list.getEntries()));

  start(): void {
    this.observer.observe({ entryTypes: ['gc'] });
  }

  stop(): void {
    this.add(this.observer.takeRecords());
    this.observer.disconnect();
  }

  private add(entries: readonly PerformanceEntry[]): void {
    for (const e of entries) {
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) this.full++;
      this.pauseMs += e.duration;
      if (e.duration > this.maxPauseMs) this.maxPauseMs = e.duration;
    }
  }
}

/** Stamp the send time (performance.now() ms, float64) into the first 8 bytes. */
function stamped(template: Buffer, at: number): Buffer {
  const b = Buffer.from(template);
  b.writeDoubleLE(at, 0);
  return b;
}

export async function tidemqBrokerE2e(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const batch = num(spec, 'batch');
  const queues = num(spec, 'queues');
  const batchApi = spec.params.api === 'batch';
  const broker = await Broker.open(dir, { maxInvisibleMs: 3_600_000 });
  broker.createTopic(topic, { queues });
  const producer = broker.producer();
  const consumer = broker.simpleConsumer({
    consumerGroup: group,
    subscriptions: { [topic]: '*' },
    awaitDuration: 100,
  });
  const template = makeBody(bodyBytes);
  const flow: Flow = { sent: 0, received: 0, acked: 0, duplicates: 0, window: 64 * batch, stop: false };
  const seen = new Uint8Array(1 << 24);
  let latency: LatencyRecorder | undefined;
  /** Messages due before this (performance.now() ms) are not timed: each rate's warm-up. */
  let timedFrom = Number.POSITIVE_INFINITY;

  let ackErrors = 0;
  const acked = (): void => {
    flow.acked++;
  };
  const ackFailed = (): void => {
    ackErrors++;
  };
  const consume = async (): Promise<void> => {
    while (!flow.stop) {
      const views: MessageView[] = await consumer.receive(batch, 600_000);
      const now = performance.now();
      const rec = latency;
      for (const v of views) {
        const id = v.body.readUInt32LE(8);
        if (seen[id & 0xffffff]) flow.duplicates++;
        seen[id & 0xffffff] = 1;
        if (rec) {
          const due = v.body.readDoubleLE(0);
          if (due >= timedFrom) rec.recordNs((now - due) * 1e6);
        }
      }
      flow.received += views.length;
      // Acks are handed off, not awaited before the next receive (as a push consumer does).
      if (batchApi) {
        const n = views.length;
        if (n > 0)
          consumer.ackBatch(views).then(
            () => {
              flow.acked += n;
            },
            () => {
              ackErrors += n;
            },
          );
      } else for (const v of views) consumer.ack(v).then(acked, ackFailed);
    }
  };

  /** `n` messages for sendBatch, numbered from flow.sent, stamped `at`, `at + stepMs`, … */
  const slice = (n: number, at: number, stepMs = 0): SendMessage[] => {
    const msgs: SendMessage[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const body = stamped(template, at + i * stepMs);
      body.writeUInt32LE(flow.sent++, 8);
      msgs[i] = { topic, body };
    }
    return msgs;
  };

  /** Flat out: keep up to `flow.window` messages between sent and acked; sends overlap. */
  let sendErrors = 0;
  const done = (): void => {};
  const failed = (): void => {
    sendErrors++;
  };
  const produceFlatOut = async (untilNs: number): Promise<void> => {
    while (nowNs() < untilNs) {
      const room = Math.min(batch, flow.window - (flow.sent - flow.acked));
      if (batchApi) {
        if (room > 0) producer.sendBatch(slice(room, 0)).then(done, failed);
      } else {
        for (let i = 0; i < room; i++) {
          const body = stamped(template, 0);
          body.writeUInt32LE(flow.sent++, 8);
          producer.send({ topic, body }).then(done, failed);
        }
      }
      await tick();
    }
  };

  /**
   * The paced phases (paced.ts): each millisecond's messages in one sendBatch() (split at the
   * store's batch limit), or one send() each, without waiting for receipts.
   */
  const pipeline: PacedPipeline = {
    emit: (owed, firstDueMs, stepMs) => {
      if (batchApi) {
        for (let sent = 0; sent < owed; sent += MAX_SEND_BATCH) {
          const n = Math.min(owed - sent, MAX_SEND_BATCH);
          producer.sendBatch(slice(n, firstDueMs + sent * stepMs, stepMs)).then(done, failed);
        }
      } else {
        for (let i = 0; i < owed; i++) {
          const body = stamped(template, firstDueMs + i * stepMs);
          body.writeUInt32LE(flow.sent++, 8);
          producer.send({ topic, body }).then(done, failed);
        }
      }
    },
    timeFrom: (recorder, fromMs) => {
      latency = recorder;
      timedFrom = fromMs;
    },
    drained: async () => {
      const drainUntil = Date.now() + 10_000;
      while (flow.acked < flow.sent && Date.now() < drainUntil) await tick();
    },
  };

  const consumers = Array.from({ length: num(spec, 'receivers') }, () => consume());
  // Phase 1: peak (phaseMs: the lengths of every phase).
  const { warmupMs, windowMs, paced: ms } = phaseMs(spec);
  const warmStart = nowNs();
  await produceFlatOut(warmStart + warmupMs * 1e6);
  const acked0 = flow.acked;
  // what a fresh process does in its first seconds, from the first send (JIT still compiling)
  const warmupPerSec = acked0 / ((nowNs() - warmStart) / 1e9);
  const main0 = mainThreadCpuUs();
  const cpu0 = process.cpuUsage();
  const t0 = nowNs();
  await produceFlatOut(t0 + windowMs * 1e6);
  // A machine busy with other work can hold the whole pipeline (JIT still cold, threads
  // descheduled) for longer than a --quick window: the window then runs on until a full batch
  // has been acked, at most 10 s, so the figure is a low rate rather than no figure at all.
  while (flow.acked - acked0 < batch && nowNs() - t0 < 10e9) await produceFlatOut(nowNs() + 50e6);
  const peakNs = nowNs() - t0;
  const peakOps = flow.acked - acked0;
  // Where the peak is bounded: CPU per acked message, the main thread's and the whole process's
  // (dispatch worker, sealing/flush/prefault threads and GC helpers share the other core).
  const cpu = process.cpuUsage(cpu0);
  const main1 = mainThreadCpuUs();
  const perMsg = (us: number): number => Math.round((us / Math.max(1, peakOps)) * 1000) / 1000;
  const peakPerSec = peakOps / (peakNs / 1e9);
  // Drain, then phase 2: half of the peak. Each paced rate first runs warmMs untimed, so that
  // what phase 1 left behind (dispatch and flush backlog, a full collection) is not timed as
  // latency at that rate; then every message due in the window is timed.
  while (flow.acked < flow.sent) await tick();
  // Event-loop stalls explain the latency tail (GC pauses, long synchronous passes).
  // So are garbage collections: full ones (objects promoted, e.g. by a pretenured allocation
  // site, see src/deferred.ts) and the pauses of all of them.
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  const gcs = new GcTally();
  const summary = await timedAt(
    pipeline,
    peakPerSec / 2,
    ms,
    'due time of the send to receive() returning the message, at half of peak',
    {
      start: () => {
        loopDelay.enable();
        gcs.start();
      },
      stop: () => {
        loopDelay.disable();
        gcs.stop();
      },
    },
  );
  const byLoad = await lighterLoads(pipeline, peakPerSec, ms);
  flow.stop = true;
  const allAcked = flow.acked === flow.sent;
  const pacedMethod = (perMs: string): string =>
    `latency phase sends at half the measured rate (after ${ms.warmMs} ms untimed at that rate), ${perMs} per ms without waiting for receipts, each message timed from when it was due; then a quarter and a tenth of the peak rate, timed the same way (extra: latencyP99MsAt25pct, At10pct)`;
  await Promise.race([Promise.all(consumers), new Promise((r) => setTimeout(r, 500))]);
  const left = await consumer.receive(1, 1000).catch(() => []);
  return {
    status: 'ok',
    ops: peakOps,
    bytes: peakOps * bodyBytes,
    elapsedMs: peakNs / 1e6,
    latency: summary,
    check: {
      passed:
        allAcked &&
        sendErrors === 0 &&
        ackErrors === 0 &&
        flow.duplicates === 0 &&
        left.length === 0 &&
        summary.count > 0,
      description:
        'every message sent was received once and acked (no duplicate, nothing left for the group), and phase 2 timed messages',
      sent: flow.sent,
      acked: flow.acked,
      duplicates: flow.duplicates,
      sendErrors,
      ackErrors,
      leftAfterDrain: left.length,
    },
    method: batchApi
      ? `one producer (sendBatch() of each slice, at most ${flow.window} unacked) and one SimpleConsumer with ${consumers.length} receive loops (receive(${batch}) then one ackBatch()) on one event loop; throughput = acks in the window after ${warmupMs} ms flat out untimed (its rate: extra warmupMsgPerSec); ${pacedMethod('one sendBatch()')}`
      : `one producer (send() in slices, at most ${flow.window} unacked) and one SimpleConsumer with ${consumers.length} receive loops (receive(${batch}) then ack each) on one event loop; throughput = acks in the window after ${warmupMs} ms flat out untimed (its rate: extra warmupMsgPerSec); ${pacedMethod('one slice of send() calls')}`,
    extra: {
      api: batchApi ? 'batch' : 'message',
      peakMsgPerSec: Math.round(peakPerSec),
      warmupMsgPerSec: Math.round(warmupPerSec),
      warmupMs,
      peakProcessCpuUsPerMsg: perMsg(cpu.user + cpu.system),
      peakMainThreadCpuUsPerMsg: main0 < 0 || main1 < 0 ? -1 : perMsg(main1 - main0),
      pacedMsgPerSec: Math.round(peakPerSec / 2),
      pacedMs: ms.paceMs,
      queues,
      eventLoopDelayP99MsPaced: Math.round(loopDelay.percentile(99) / 1e4) / 100,
      eventLoopDelayMaxMsPaced: Math.round(loopDelay.max / 1e4) / 100,
      fullGcsPaced: gcs.full,
      gcPauseMsPaced: Math.round(gcs.pauseMs * 10) / 10,
      gcPauseMaxMsPaced: Math.round(gcs.maxPauseMs * 10) / 10,
      ...byLoad,
    },
  };
}

export async function tidemqBrokerDelayBurst(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const messages = num(spec, 'messages');
  const queues = num(spec, 'queues');
  const leadMs = num(spec, 'leadMs');
  const broker = await Broker.open(dir);
  broker.createTopic(topic, { queues, type: 'DELAY' });
  const producer = broker.producer();
  const body = makeBody(bodyBytes);
  const t0 = Date.now();
  // Due times spread over one second, starting leadMs from now (room to send them all first).
  const firstDue = t0 + leadMs;
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < messages; i++) {
    sends.push(producer.send({ topic, body, deliveryTimestamp: firstDue + (i % 1000) }));
    if (sends.length >= 4096) await Promise.all(sends.splice(0));
  }
  await Promise.all(sends);
  const sentAt = Date.now();
  if (sentAt >= firstDue) {
    return {
      status: 'failed',
      reason: `sending ${messages} timed messages took ${sentAt - t0} ms, past the first due time (lead ${leadMs} ms)`,
      ops: 0,
      bytes: 0,
      elapsedMs: 0,
      check: { passed: false, description: 'the send phase overran the due time' },
      method: '',
      extra: {},
    };
  }
  // Timers fire in due order, so the j-th message to become readable (over all queues) is the
  // j-th earliest due: firstDue + floor(j / perMs). Each queue's readable count is sampled every
  // millisecond; lateness = sample time − due (≤ 1 ms early by the sampling).
  const perMs = messages / 1000;
  const lateness = new LatencyRecorder();
  let total = 0;
  let lastAt = 0;
  let early = 0;
  const deadline = firstDue + 1000 + 60_000;
  while (total < messages && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1));
    const now = Date.now();
    let readable = 0;
    for (let q = 0; q < queues; q++) readable += broker.reader.maxOffset(topic, q);
    const dueByNow = Math.min(messages, Math.max(0, Math.floor((now - firstDue + 1) * perMs)));
    if (readable > dueByNow) early = Math.max(early, readable - dueByNow);
    for (let j = total; j < readable; j++) {
      lateness.recordNs(Math.max(0, now - (firstDue + Math.floor(j / perMs))) * 1e6);
    }
    if (readable > total) lastAt = now;
    total = readable;
  }
  const lastDue = firstDue + 999;
  const s = lateness.summary('due time to readable in its topic (sampled every ms)');
  const lastAfterDueMs = lastAt - lastDue;
  await broker.close();
  return {
    status: 'ok',
    ops: total,
    bytes: total * bodyBytes,
    elapsedMs: Math.max(1, lastAt - firstDue),
    latency: s,
    check: {
      passed: total === messages && early === 0 && s.maxUs <= 1_000_000,
      description: `all ${messages} timed messages became readable in their topic, none before its due time, each within 1 s of it`,
      readableBeforeDue: early,
      delivered: total,
      lastDeliveredAfterLastDueMs: lastAfterDueMs,
      sendMs: sentAt - t0,
    },
    method: `${messages} sends with deliveryTimestamp spread over one second, ${leadMs} ms ahead; each queue's readable count sampled every ms; throughput = messages / (last readable − first due)`,
    extra: { queues, timerLatenessMsOfLastSlice: broker.timers.lastLatenessMs },
  };
}
