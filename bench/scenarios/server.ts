/**
 * The server through the official client (rocketmq-client-nodejs) over loopback: send, and
 * receive + ack, against `tidemq serve` (TidemqServer) or the protocol's ceiling (a grpc-js
 * server that only answers, bench/limits/grpc-ceiling.ts) — same client, same load shape, the
 * server in its own process (why: bench/server-process.ts).
 *
 * send: P producers with I sends in flight each (closed loop, every send timed) give the peak;
 * then an open loop at half that peak, for the same window, gives the p99 send latency at half
 * load (extra.halfPeak*). receive: C simple consumers with K receive loops each; a loop receives
 * up to 32 messages and acks each one (the client acks one message per call), and the figure is
 * per message, timed from the receive call to the last ack of its batch.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Producer, SimpleConsumer } from 'rocketmq-client-nodejs';
import { runConcurrentLoop, runOpenLoop } from '../measure.js';
import { fromLoop, num, str } from '../outcome.js';
import type { ServerProcessConfig, ServerStats } from '../server-process.js';
import type { ParamValue, ScenarioOutcome, ScenarioSpec } from '../spec.js';
import { makeBody } from '../store-api.js';

const here = path.dirname(fileURLToPath(import.meta.url));

const topic = 'bench';
const group = 'bench-group';
const quiet = { info() {}, warn() {}, error() {}, debug() {} };
/** A client message id: "01" + 32 upper-case hex digits (rocketmq-client-nodejs MessageId). */
const MESSAGE_ID = /^01[0-9A-F]{32}$/;
/** Messages per receive (the client's and server's default batch). */
const RECEIVE_BATCH = 32;
/** Sends per producer before the timed warm-up (covers every route queue's channel). */
const PRIMING_CALLS = 16;

/**
 * Set TIDEMQ_BENCH_SERVER_PROF=<dir> to run the server process under `node --cpu-prof` and keep
 * its profile in <dir> (one .cpuprofile per scenario run).
 */
const PROFILE_ENV = 'TIDEMQ_BENCH_SERVER_PROF';

interface ServerHandle {
  port: number;
  stop(): Promise<ServerStats>;
}

function startServerProcess(config: ServerProcessConfig): Promise<ServerHandle> {
  const profileDir = process.env[PROFILE_ENV];
  const execArgv = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const child: ChildProcess = spawn(
    process.execPath,
    [...execArgv, path.join(here, '..', 'server-process.js'), JSON.stringify(config)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: string | null) =>
      reject(new Error(`server process exited before it was ready (code ${code}, signal ${signal})`));
    child.once('exit', onExit);
    child.once('error', reject);
    child.once('message', (m: { type: string; port: number }) => {
      if (m.type !== 'ready') return reject(new Error(`server process: unexpected ${JSON.stringify(m)}`));
      child.off('exit', onExit);
      resolve({
        port: m.port,
        stop: () =>
          new Promise<ServerStats>((res, rej) => {
            child.once('message', (r: { type: string; stats?: ServerStats; error?: string }) =>
              r.stats ? res(r.stats) : rej(new Error(`server process: ${r.error}`)),
            );
            child.once('exit', () => rej(new Error('server process exited without stats')));
            child.send({ type: 'stop' });
          }),
      });
    });
  });
}

interface Client {
  shutdown(): Promise<unknown>;
}

async function shutdownAll(clients: Client[]): Promise<void> {
  await Promise.all(clients.map((c) => c.shutdown().catch(() => {})));
}

function cpuUs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return d.user + d.system;
}

const round2 = (n: number) => Math.round(n * 100) / 100;
/** µs per message, or -1 when the figure is not available. */
const perMsg = (us: number, messages: number) => (us < 0 ? -1 : round2(us / Math.max(1, messages)));

function which(spec: ScenarioSpec): 'tidemq' | 'ceiling' {
  const s = str(spec, 'server');
  if (s !== 'tidemq' && s !== 'ceiling') throw new Error(`${spec.name}: server must be tidemq or ceiling`);
  return s;
}

export async function serverSend(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const producers = num(spec, 'producers');
  const inflight = num(spec, 'inflight');
  const server = which(spec);
  const handle = await startServerProcess({ server, dir, topic, bodyBytes, prefill: 0 });
  const endpoints = `127.0.0.1:${handle.port}`;
  const clients: Producer[] = [];
  let stats: ServerStats | undefined;
  try {
    for (let i = 0; i < producers; i++) {
      const p = new Producer({ endpoints, namespace: '', topic: [topic], logger: quiet });
      await p.startup();
      clients.push(p);
    }
    const body = makeBody(bodyBytes);
    let sent = 0;
    let badReceipts = 0;
    let next = 0;
    const send = async (worker: number) => {
      const receipt = await clients[worker % producers]!.send({ topic, body });
      sent++;
      if (!MESSAGE_ID.test(receipt.messageId) || !(Number(receipt.offset) >= 0)) badReceipts++;
    };
    // Priming, before the timed warm-up: the client opens a channel per route queue on first use.
    await Promise.all(
      clients.map(async (_, w) => {
        for (let i = 0; i < PRIMING_CALLS; i++) await send(w);
      }),
    );
    const cpu0 = process.cpuUsage();
    const sentBefore = sent;
    const peak = await runConcurrentLoop({
      warmupMs: spec.warmupMs,
      durationMs: spec.durationMs,
      concurrency: producers * inflight,
      opsPerCall: 1,
      latencyUnit: 'send() call to receipt, closed loop at peak',
      maxCalls: Math.max(1, Math.floor(spec.maxBytes / bodyBytes)),
      call: send,
    });
    const peakRate = peak.ops / (peak.elapsedMs / 1000);
    const half = await runOpenLoop({
      ratePerSec: Math.max(1, peakRate / 2),
      durationMs: spec.durationMs,
      maxOutstanding: producers * inflight * 4,
      call: () => send(next++),
    });
    const clientCpuUs = cpuUs(cpu0);
    await shutdownAll(clients.splice(0));
    stats = await handle.stop();
    const serverCount = server === 'tidemq' ? stats.storedMessages : stats.answeredSends;
    const halfP99Us = half.latency.summary('').p99Us;
    const halfOk = half.failed === 0 && half.skipped === 0 && half.completed > 0;
    const extra: Record<string, ParamValue> = {
      server,
      halfPeakRatePerSec: half.startedPerSec,
      halfPeakP50Us: half.latency.summary('').p50Us,
      halfPeakP99Us: halfP99Us,
      halfPeakP999Us: half.latency.summary('').p999Us,
      halfPeakP99FromScheduleUs: half.fromSchedule.summary('').p99Us,
      halfPeakSends: half.completed,
      halfPeakTargetP99Us: 5000,
      serverCpuUsPerMsg: round2(stats.cpuUs / Math.max(1, sent)),
      serverEventLoopUtilization: stats.eventLoopUtilization,
      serverMainThreadCpuUsPerMsg: perMsg(stats.mainThreadCpuUs, sent),
      clientCpuUsPerMsg: round2(clientCpuUs / Math.max(1, sent - sentBefore)),
      flushMode: stats.flushMode,
    };
    return fromLoop(
      peak,
      bodyBytes,
      {
        passed: badReceipts === 0 && sent > 0 && serverCount === sent && halfOk,
        description:
          server === 'tidemq'
            ? "every send resolved with a receipt (client message id, offset ≥ 0), and the topic's consume queues hold exactly the messages sent; the half-peak loop ran without failures or skips"
            : 'every send resolved with a receipt (client message id, offset ≥ 0), and the ceiling answered exactly the messages sent; the half-peak loop ran without failures or skips',
        sent,
        serverCount,
        badReceipts,
        halfPeakFailed: half.failed,
        halfPeakSkipped: half.skipped,
      },
      `${producers} producers × ${inflight} sends in flight (closed loop), every send timed; then an open loop at half the measured rate for ${spec.durationMs} ms (extra.halfPeak*: call to receipt; FromSchedule: from the due time)`,
      extra,
    );
  } finally {
    await shutdownAll(clients);
    if (stats === undefined) await handle.stop().catch(() => {});
  }
}

interface ReceivedView {
  messageId: string;
  body: Buffer;
  corrupted?: boolean;
}

export async function serverReceive(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const consumers = num(spec, 'consumers');
  const inflight = num(spec, 'inflight');
  const prefill = num(spec, 'prefill');
  const server = which(spec);
  const handle = await startServerProcess({
    server,
    dir,
    topic,
    bodyBytes,
    prefill: server === 'tidemq' ? prefill : 0,
  });
  const endpoints = `127.0.0.1:${handle.port}`;
  const clients: SimpleConsumer[] = [];
  let stats: ServerStats | undefined;
  try {
    for (let i = 0; i < consumers; i++) {
      const c = new SimpleConsumer({
        endpoints,
        namespace: '',
        consumerGroup: group,
        subscriptions: new Map([[topic, '*']]),
        awaitDuration: 1000,
        logger: quiet,
      });
      await c.startup();
      clients.push(c);
    }
    const seen = new Uint8Array(server === 'tidemq' ? prefill : 0);
    let received = 0;
    let acked = 0;
    let emptyReceives = 0;
    let wrong = 0;
    let duplicates = 0;
    const receiveAndAck = async (worker: number): Promise<number> => {
      const c = clients[worker % consumers]!;
      const batch = (await c.receive(RECEIVE_BATCH, 30_000)) as unknown as ReceivedView[];
      if (batch.length === 0) emptyReceives++;
      received += batch.length;
      for (const m of batch) {
        if (m.body.length !== bodyBytes || m.corrupted) wrong++;
        if (server === 'tidemq') {
          const i = m.body.readUInt32BE(0);
          if (i >= prefill) wrong++;
          else if (seen[i]++ !== 0) duplicates++;
        }
      }
      await Promise.all(batch.map((m) => c.ack(m as never)));
      acked += batch.length;
      return batch.length;
    };
    // Priming, before the timed warm-up (channels, JIT).
    await Promise.all(
      clients.map(async (_, w) => {
        for (let i = 0; i < 2; i++) await receiveAndAck(w);
      }),
    );
    const cpu0 = process.cpuUsage();
    const receivedBefore = received;
    const r = await runConcurrentLoop({
      warmupMs: spec.warmupMs,
      durationMs: spec.durationMs,
      concurrency: consumers * inflight,
      opsPerCall: RECEIVE_BATCH,
      latencyUnit: `receive() of up to ${RECEIVE_BATCH} to the last ack of the batch, per message`,
      maxCalls: Number.MAX_SAFE_INTEGER,
      call: receiveAndAck,
    });
    const clientCpuUs = cpuUs(cpu0);
    await shutdownAll(clients.splice(0));
    stats = await handle.stop();
    const serverProof =
      server === 'tidemq'
        ? received <= prefill && duplicates === 0
        : stats.deliveredMessages === received && stats.acks === acked;
    return fromLoop(
      r,
      bodyBytes,
      {
        passed: received > 0 && acked === received && wrong === 0 && emptyReceives === 0 && serverProof,
        description:
          server === 'tidemq'
            ? 'every received message is a distinct prefilled one (index in its body, none twice) with the right size and MD5 digest, every ack succeeded, and no receive came back empty (the prefill lasted)'
            : 'every canned message had the right size and MD5 digest, every ack succeeded, and the ceiling handed out and acked exactly what the client received',
        received,
        acked,
        wrong,
        duplicates,
        emptyReceives,
        ...(server === 'ceiling' ? { serverDelivered: stats.deliveredMessages, serverAcks: stats.acks } : {}),
      },
      `${consumers} simple consumers × ${inflight} receive loops; each receives up to ${RECEIVE_BATCH} (invisible 30 s) and acks every message (one ack call each, concurrently); each batch timed and counted per message`,
      {
        server,
        prefilled: server === 'tidemq' ? prefill : 0,
        serverCpuUsPerMsg: round2(stats.cpuUs / Math.max(1, received)),
        serverEventLoopUtilization: stats.eventLoopUtilization,
        serverMainThreadCpuUsPerMsg: perMsg(stats.mainThreadCpuUs, received),
        clientCpuUsPerMsg: round2(clientCpuUs / Math.max(1, received - receivedBefore)),
        flushMode: stats.flushMode,
      },
    );
  } finally {
    await shutdownAll(clients);
    if (stats === undefined) await handle.stop().catch(() => {});
  }
}
