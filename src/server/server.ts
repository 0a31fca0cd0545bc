/**
 * TidemqServer: the embedded broker on the network as apache.rocketmq.v2.MessagingService over
 * plaintext HTTP/2 (grpc-js), so the official RocketMQ 5 clients work against it unchanged.
 *
 * Shutdown: stop accepting calls, end Telemetry streams, let parked long polls answer "no new
 * message", wait for in-flight calls (up to a grace period, then cancel them), close the broker.
 */
import * as grpc from '@grpc/grpc-js';
import { Broker } from '../broker/broker.js';
import type { BrokerOptions } from '../broker/types.js';
import type { Endpoints } from './convert.js';
import { MessagingService } from './messaging-service.js';
import { servingDefinition } from './proto.js';

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
   * A connection with no call open for this long is closed (default 300 000 ms). Clients
   * reconnect on their next call; the official clients always hold a Telemetry stream open. This
   * also drops connections that never finish the HTTP/2 handshake (a truncated preface).
   */
  idleConnectionMs?: number;
}

/** Larger than the largest body (4 MiB − 32 KiB) plus properties, as the client's sends need. */
const MAX_RECEIVE_BYTES = 16 * 1024 * 1024;
const DEFAULT_IDLE_CONNECTION_MS = 300_000;

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
    const broker = await Broker.open(options.dir, { autoCreateTopics: true, ...(options.broker ?? {}) });
    const grpcServer = new grpc.Server({
      'grpc.max_receive_message_length': MAX_RECEIVE_BYTES,
      'grpc.max_connection_idle_ms': options.idleConnectionMs ?? DEFAULT_IDLE_CONNECTION_MS,
    });
    let port = 0;
    let self: TidemqServer | undefined;
    const service = new MessagingService({
      broker,
      endpoints: () => endpointsOf(host === '0.0.0.0' ? '127.0.0.1' : host, port),
      closing: () => self?.closing ?? false,
    });
    grpcServer.addService(servingDefinition(), service.handlers());
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

  /** Graceful shutdown; idempotent. */
  close(): Promise<void> {
    if (!this.closePromise) this.closePromise = this.doClose();
    return this.closePromise;
  }

  private async doClose(): Promise<void> {
    this.closingFlag = true;
    const drained = new Promise<void>((resolve) => this.grpcServer.tryShutdown(() => resolve()));
    this.service.endTelemetry();
    this.broker.delivery.wakeAll();
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

function endpointsOf(host: string, port: number): Endpoints {
  const ipv4 = /^\d+\.\d+\.\d+\.\d+$/.test(host);
  return { scheme: ipv4 ? 1 : 3, addresses: [{ host, port }] };
}
