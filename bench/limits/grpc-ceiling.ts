/**
 * The protocol's own ceiling: an apache.rocketmq.v2.MessagingService on grpc-js that stores
 * nothing and answers every call at once with a canned reply. It loads the same protos with the
 * same loader options as TidemqServer (src/server/proto.ts), and its canned replies have the same
 * fields tidemq sends (built once with src/server/convert.ts), so the wire and serialisation work
 * per message are the same; only the broker is missing. The official client drives it exactly as
 * it drives tidemq:
 *
 * - QueryRoute: 4 read-write queues of a MIXED topic on this endpoint; QueryAssignment likewise.
 * - Telemetry: the Settings handshake (src/server/telemetry.ts), without which the client's
 *   startup never finishes.
 * - Heartbeat, NotifyClientTermination, AckMessage, ChangeInvisibleDuration: OK.
 * - SendMessage: OK with one receipt per message (the client's message id echoed, a counter as
 *   the queue offset).
 * - ReceiveMessage: status OK, min(batchSize, 32) canned messages of the configured body size
 *   (valid MD5 digest, so the client does not flag them corrupted), a delivery timestamp.
 *
 * Counters (messages answered, acks answered) let a scenario prove its load went through.
 */
import * as grpc from '@grpc/grpc-js';
import type { MessageView } from '../../src/broker/types.js';
import { type Endpoints, fromMs, messageQueues, toWireMessage } from '../../src/server/convert.js';
import { messagingServiceDefinition } from '../../src/server/proto.js';
import { GRPC_SERVER_OPTIONS } from '../../src/server/server.js';
import { OK } from '../../src/server/status.js';
import { type ClientSettings, settingsReply } from '../../src/server/telemetry.js';

// biome-ignore lint/suspicious/noExplicitAny: decoded protobuf objects are plain JS objects
type Req = any;
type Unary = grpc.ServerUnaryCall<Req, object>;
type Reply = grpc.sendUnaryData<object>;

/** Messages a receive answers with at most (the client's default receive batch). */
const MAX_RECEIVE_BATCH = 32;
const QUEUES = 4;

export interface CeilingCounters {
  sendCalls: number;
  sentMessages: number;
  receiveCalls: number;
  deliveredMessages: number;
  acks: number;
}

export interface CeilingServer {
  readonly port: number;
  readonly counters: CeilingCounters;
  close(): Promise<void>;
}

/** A canned delivered message; receipt handles and ids are fixed strings (nothing checks them). */
function cannedMessages(topic: string, body: Buffer): object[] {
  const out: object[] = [];
  for (let i = 0; i < MAX_RECEIVE_BATCH; i++) {
    const view: MessageView = {
      messageId: `01${i.toString(16).padStart(32, '0').toUpperCase()}`,
      topic,
      body,
      corrupted: false,
      keys: [],
      bornHost: '127.0.0.1',
      bornTimestamp: new Date(),
      deliveryAttempt: 1,
      receiptHandle: `ceiling-handle-${i}`,
      queueId: i % QUEUES,
      offset: i,
      properties: new Map(),
      storeTimestamp: Date.now(),
    };
    out.push(toWireMessage(view, '', 30_000));
  }
  return out;
}

export async function startCeilingServer(options: {
  host: string;
  port: number;
  topic: string;
  /** Body of the canned delivered messages. */
  body: Buffer;
}): Promise<CeilingServer> {
  const counters: CeilingCounters = {
    sendCalls: 0,
    sentMessages: 0,
    receiveCalls: 0,
    deliveredMessages: 0,
    acks: 0,
  };
  const canned = cannedMessages(options.topic, options.body);
  let port = 0;
  const endpoints = (): Endpoints => ({ scheme: 1, addresses: [{ host: options.host, port }] });
  const route = (call: Unary): object => ({
    status: OK,
    messageQueues: messageQueues(
      { name: call.request.topic?.name ?? options.topic, queues: QUEUES, type: 'MIXED' },
      '',
      endpoints(),
    ),
  });
  const ok = (_call: Unary, reply: Reply) => reply(null, { status: OK });
  const telemetry = new Set<grpc.ServerDuplexStream<Req, object>>();
  const limits = {
    maxBodyBytes: 4 * 1024 * 1024,
    maxDeliveryAttempts: 16,
    fifo: false,
    longPollingMs: 20_000,
  };

  const handlers: grpc.UntypedServiceImplementation = {
    QueryRoute: (call: Unary, reply: Reply) => reply(null, route(call)),
    QueryAssignment: (call: Unary, reply: Reply) => {
      const [q] = (route(call) as { messageQueues: object[] }).messageQueues;
      reply(null, { status: OK, assignments: [{ messageQueue: { ...q, id: -1 } }] });
    },
    Heartbeat: ok,
    NotifyClientTermination: ok,
    ChangeInvisibleDuration: (call: Unary, reply: Reply) =>
      reply(null, { status: OK, receiptHandle: call.request.receiptHandle ?? '' }),
    SendMessage: (call: Unary, reply: Reply) => {
      const messages: { systemProperties?: { messageId?: string } }[] = call.request.messages ?? [];
      counters.sendCalls++;
      const entries = messages.map((m) => ({
        status: OK,
        messageId: m.systemProperties?.messageId ?? '',
        transactionId: '',
        offset: counters.sentMessages++,
        recallHandle: '',
      }));
      reply(null, { status: OK, entries });
    },
    ReceiveMessage: (call: grpc.ServerWritableStream<Req, object>) => {
      const n = Math.max(1, Math.min(call.request.batchSize || MAX_RECEIVE_BATCH, MAX_RECEIVE_BATCH));
      counters.receiveCalls++;
      counters.deliveredMessages += n;
      call.write({ status: OK });
      for (let i = 0; i < n; i++) call.write({ message: canned[i] });
      call.write({ deliveryTimestamp: fromMs(Date.now()) });
      call.end();
    },
    AckMessage: (call: Unary, reply: Reply) => {
      const entries: { messageId?: string; receiptHandle?: string }[] = call.request.entries ?? [];
      counters.acks += entries.length;
      reply(null, {
        status: OK,
        entries: entries.map((e) => ({ messageId: e.messageId, receiptHandle: e.receiptHandle, status: OK })),
      });
    },
    Telemetry: (call: grpc.ServerDuplexStream<Req, object>) => {
      telemetry.add(call);
      call.on('data', (cmd: { settings?: ClientSettings }) => {
        if (cmd.settings) call.write(settingsReply(cmd.settings, limits));
      });
      const drop = () => telemetry.delete(call);
      call.on('end', () => {
        drop();
        call.end();
      });
      call.on('error', drop);
      call.on('cancelled', drop);
    },
  };

  // Same server options as TidemqServer.
  const server = new grpc.Server(GRPC_SERVER_OPTIONS);
  server.addService(messagingServiceDefinition(), handlers);
  port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host}:${options.port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    );
  });
  return {
    port,
    counters,
    close: async () => {
      for (const call of telemetry) call.end();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}
