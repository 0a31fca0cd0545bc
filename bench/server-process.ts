/**
 * The server side of a server scenario, in its own process: `tidemq` (TidemqServer over a
 * fresh store) or `ceiling` (bench/limits/grpc-ceiling.ts), on 127.0.0.1 with a free port.
 *
 * Why a separate process: a deployed server and its clients never share an event loop. In one
 * process the client's own work (google-protobuf encoding, promise chains; usually the larger
 * share) would run on the same JS thread as the server's and be added to it, so the measured
 * rate would be 1 / (client + server) per message and hide most of the server's cost. In two
 * processes on 2 cores each side has a core (tidemq's flush and dispatch threads share them);
 * the rate is bounded by the slower side, and each side's CPU time per message is reported.
 *
 * IPC protocol (argv: <config JSON>):
 *   child → parent  { type: 'ready', port, prefilled }
 *   parent → child  { type: 'stop' }
 *   child → parent  { type: 'stats', stats: ServerStats }, then the process exits (so that
 *                   --cpu-prof, when the parent passes it, writes the profile).
 */
import { createLogger } from '../src/server/logger.js';
import { TidemqServer } from '../src/server/server.js';
import { startCeilingServer } from './limits/grpc-ceiling.js';
import { mainThreadCpuUs } from './measure.js';
import { makeBody } from './store-api.js';

export interface ServerProcessConfig {
  server: 'tidemq' | 'ceiling';
  dir: string;
  topic: string;
  bodyBytes: number;
  /** Messages stored before the server reports ready (tidemq; bodies carry their index). */
  prefill: number;
}

export interface ServerStats {
  /** Server process CPU time (user + system, all threads) from ready to stop, in µs. */
  cpuUs: number;
  /**
   * Event loop utilisation of the server's main thread from ready to stop (0..1): near 1, the
   * server's JS thread was the bottleneck. Wall-clock based, so time the OS gave to other
   * processes while a callback ran counts as busy.
   */
  eventLoopUtilization: number;
  /** CPU time of the main thread alone from ready to stop, in µs (Linux; -1 elsewhere). */
  mainThreadCpuUs: number;
  /** Messages in the topic's queues at stop (tidemq, after dispatch caught up). */
  storedMessages: number;
  /** Ceiling: SendMessage entries answered. */
  answeredSends: number;
  /** Ceiling: messages handed out by ReceiveMessage. */
  deliveredMessages: number;
  /** Ceiling: ack entries answered. */
  acks: number;
  flushMode: string;
}

/** The bench's prefill body of message `i`: makeBody(bodyBytes) with `i` in its first 4 bytes. */
export function indexedBody(template: Buffer, i: number): Buffer {
  const body = Buffer.from(template);
  body.writeUInt32BE(i, 0);
  return body;
}

async function startTidemq(c: ServerProcessConfig): Promise<{
  port: number;
  stats: () => Promise<Omit<ServerStats, 'cpuUs' | 'eventLoopUtilization' | 'mainThreadCpuUs'>>;
}> {
  // Warnings and errors only: the bench's own output is the report (TIDEMQ_LOG_LEVEL overrides).
  const logger = createLogger(process.env.TIDEMQ_LOG_LEVEL ?? 'warn');
  const server = await TidemqServer.start({ dir: c.dir, host: '127.0.0.1', port: 0, logger });
  const broker = server.broker;
  broker.resolveTopic(c.topic);
  const template = makeBody(c.bodyBytes);
  const producer = broker.producer({ clientId: 'bench-prefill' });
  for (let start = 0; start < c.prefill; start += 1000) {
    const sends: Promise<unknown>[] = [];
    for (let i = start; i < Math.min(c.prefill, start + 1000); i++)
      sends.push(producer.send({ topic: c.topic, body: indexedBody(template, i) }));
    await Promise.all(sends);
  }
  await producer.close();
  const store = broker.core.store;
  await store.waitForDispatch();
  return {
    port: server.port,
    stats: async () => {
      await store.waitForDispatch();
      const queues = broker.getTopic(c.topic)?.queues ?? 0;
      let stored = 0;
      for (let q = 0; q < queues; q++) stored += store.maxOffset(c.topic, q);
      const flushMode = store.stats().flushMode;
      await server.close();
      return { storedMessages: stored, answeredSends: 0, deliveredMessages: 0, acks: 0, flushMode };
    },
  };
}

async function startCeiling(c: ServerProcessConfig): Promise<{
  port: number;
  stats: () => Promise<Omit<ServerStats, 'cpuUs' | 'eventLoopUtilization' | 'mainThreadCpuUs'>>;
}> {
  const server = await startCeilingServer({
    host: '127.0.0.1',
    port: 0,
    topic: c.topic,
    body: makeBody(c.bodyBytes),
  });
  return {
    port: server.port,
    stats: async () => {
      const k = { ...server.counters };
      await server.close();
      return {
        storedMessages: 0,
        answeredSends: k.sentMessages,
        deliveredMessages: k.deliveredMessages,
        acks: k.acks,
        flushMode: 'none',
      };
    },
  };
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2]!) as ServerProcessConfig;
  const started = config.server === 'tidemq' ? await startTidemq(config) : await startCeiling(config);
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const main0 = mainThreadCpuUs();
  process.on('message', (m: { type: string }) => {
    if (m.type !== 'stop') return;
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0);
    const main1 = mainThreadCpuUs();
    started.stats().then(
      (s) => {
        const stats: ServerStats = {
          ...s,
          cpuUs: cpu.user + cpu.system,
          eventLoopUtilization: Math.round(elu.utilization * 1000) / 1000,
          mainThreadCpuUs: main0 < 0 || main1 < 0 ? -1 : main1 - main0,
        };
        process.send!({ type: 'stats', stats }, () => process.exit(0));
      },
      (err: unknown) => {
        process.send!({ type: 'error', error: String((err as Error)?.stack ?? err) }, () => process.exit(1));
      },
    );
  });
  process.send!({ type: 'ready', port: started.port, prefilled: config.prefill });
}

await main();
