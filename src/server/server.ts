/**
 * TidemqServer: the embedded broker on the network as apache.rocketmq.v2.MessagingService over
 * plaintext HTTP/2 (grpc-js), so the official RocketMQ 5 clients work against it unchanged.
 *
 * Shutdown: stop accepting calls, end Telemetry streams, let parked long polls answer "no new
 * message", wait for in-flight calls (up to a grace period, then cancel them), close the broker.
 */
import * as grpc from '@grpc/grpc-js';
import { Broker } from '../broker/broker.js';
import { BrokerError } from '../broker/errors.js';
import type { BrokerOptions } from '../broker/types.js';
import type { Endpoints } from './convert.js';
import { type GroupSettings, MessagingService } from './messaging-service.js';
import { messagingServiceDefinition } from './proto.js';
import type { ClientSessions } from './sessions.js';

export interface ServerOptions {
  /** Store directory. */
  dir: string;
  /** TCP port; 0 picks a free one (default 8081). */
  port?: number;
  /** Listen address (default 0.0.0.0). */
  host?: string;
  /** Broker options; topics are auto-created (MIXED, 4 queues) unless autoCreateTopics is false. */
  broker?: BrokerOptions;
  /** In-flight calls get this long to finish on close before they are cancelled (default 5 000 ms). */
  shutdownGraceMs?: number;
  /**
   * Consumer groups: `fifo` (ordered per message group, told to push consumers in Settings) and
   * `maxDeliveryAttempts` (then %DLQ%<group>; the push client's backoff_policy.max_attempts).
   * Unlisted groups take the broker's group defaults.
   */
  groups?: Record<string, GroupSettings>;
  /** Invisible time of push deliveries (auto-renew), renewed while the client lives (default 60 000 ms). */
  leaseMs?: number;
  /** Long-polling time push consumers are told to use (default 20 000 ms; their shutdown waits for it). */
  pushLongPollingMs?: number;
}

/** Larger than the largest body (4 MiB − 32 KiB) plus properties, as the client's sends need. */
const MAX_RECEIVE_BYTES = 16 * 1024 * 1024;

export class TidemqServer {
  private closingFlag = false;
  private closePromise: Promise<void> | undefined;

  private constructor(
    readonly broker: Broker,
    private readonly grpcServer: grpc.Server,
    private readonly service: MessagingService,
    readonly host: string,
    readonly port: number,
    private readonly graceMs: number,
  ) {}

  /** Open the broker and listen. */
  static async start(options: ServerOptions): Promise<TidemqServer> {
    const host = options.host ?? '0.0.0.0';
    const groups = checkGroups(options.groups ?? {});
    for (const [name, v] of [
      ['leaseMs', options.leaseMs],
      ['pushLongPollingMs', options.pushLongPollingMs],
    ] as const) {
      if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 1)) {
        throw new BrokerError('BAD_REQUEST', `${name} must be a positive number of ms, got ${String(v)}.`);
      }
    }
    const broker = await Broker.open(options.dir, { autoCreateTopics: true, ...(options.broker ?? {}) });
    const grpcServer = new grpc.Server({
      'grpc.max_receive_message_length': MAX_RECEIVE_BYTES,
    });
    let port = 0;
    let self: TidemqServer | undefined;
    const service = new MessagingService({
      broker,
      endpoints: () => endpointsOf(host === '0.0.0.0' ? '127.0.0.1' : host, port),
      closing: () => self?.closing ?? false,
      groupSettings: (group) => groups.get(group) ?? {},
      ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
      ...(options.pushLongPollingMs === undefined ? {} : { pushLongPollingMs: options.pushLongPollingMs }),
    });
    grpcServer.addService(messagingServiceDefinition(), service.handlers());
    try {
      port = await new Promise<number>((resolve, reject) => {
        grpcServer.bindAsync(
          `${host}:${options.port ?? 8081}`,
          grpc.ServerCredentials.createInsecure(),
          (err, bound) => (err ? reject(err) : resolve(bound)),
        );
      });
    } catch (err) {
      grpcServer.forceShutdown();
      await broker.close();
      throw err;
    }
    self = new TidemqServer(broker, grpcServer, service, host, port, options.shutdownGraceMs ?? 5000);
    return self;
  }

  get closing(): boolean {
    return this.closingFlag;
  }

  /** The clients seen: types, groups, Settings received, open Telemetry streams. */
  get sessions(): ClientSessions {
    return this.service.sessions;
  }

  /** Graceful shutdown; idempotent. */
  close(): Promise<void> {
    if (!this.closePromise) this.closePromise = this.doClose();
    return this.closePromise;
  }

  private async doClose(): Promise<void> {
    this.closingFlag = true;
    const drained = new Promise<void>((resolve) => this.grpcServer.tryShutdown(() => resolve()));
    this.service.close();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.graceMs);
    });
    await Promise.race([drained, grace]);
    clearTimeout(timer);
    this.grpcServer.forceShutdown();
    await this.broker.close();
  }
}

/** Group settings as given, checked: a bad value is a typed error before anything starts. */
function checkGroups(groups: Record<string, GroupSettings>): Map<string, GroupSettings> {
  const out = new Map<string, GroupSettings>();
  for (const [name, g] of Object.entries(groups)) {
    const max = g?.maxDeliveryAttempts;
    if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
      throw new BrokerError(
        'BAD_REQUEST',
        `group ${name}: maxDeliveryAttempts must be a positive integer, got ${String(max)}.`,
      );
    }
    if (g?.fifo !== undefined && typeof g.fifo !== 'boolean') {
      throw new BrokerError('BAD_REQUEST', `group ${name}: fifo must be true or false.`);
    }
    out.set(name, { ...g });
  }
  return out;
}

function endpointsOf(host: string, port: number): Endpoints {
  const ipv4 = /^\d+\.\d+\.\d+\.\d+$/.test(host);
  return { scheme: ipv4 ? 1 : 3, addresses: [{ host, port }] };
}
