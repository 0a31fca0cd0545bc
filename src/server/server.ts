/**
 * TidemqServer: the embedded broker on the network as apache.rocketmq.v2.MessagingService over
 * plaintext HTTP/2 (grpc-js), so the official RocketMQ 5 clients work against it unchanged.
 *
 * Shutdown: stop accepting calls, end Telemetry streams, let parked long polls answer "no new
 * message", wait for in-flight calls (up to a grace period, then cancel them), close the broker.
 *
 * Operations: structured logs (pino, `logger`), and with `metricsPort` an HTTP port serving
 * Prometheus metrics and the JSON admin API (ops-http.ts).
 */
import * as grpc from '@grpc/grpc-js';
import { Broker } from '../broker/broker.js';
import type { BrokerOptions } from '../broker/types.js';
import type { Endpoints } from './convert.js';
import { instrument } from './instrument.js';
import { createLogger, type Logger } from './logger.js';
import { MessagingService } from './messaging-service.js';
import { ServerMetrics } from './metrics.js';
import { OpsHttpServer } from './ops-http.js';
import { messagingServiceDefinition } from './proto.js';

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
  /** HTTP port for /metrics and the /admin API; 0 picks a free one (see `metricsPort`); off when absent. */
  metricsPort?: number;
  /** Structured log (default: pino to stderr at TIDEMQ_LOG_LEVEL, else 'info'). */
  logger?: Logger;
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
    readonly logger: Logger,
    private readonly ops: OpsHttpServer | undefined,
    /** Prometheus metrics of this server (its own registry), when metricsPort was given. */
    readonly metrics: ServerMetrics | undefined,
  ) {}

  /** The bound metrics/admin HTTP port, when metricsPort was given. */
  get metricsPort(): number | undefined {
    return this.ops?.port;
  }

  /** Open the broker and listen. */
  static async start(options: ServerOptions): Promise<TidemqServer> {
    const host = options.host ?? '0.0.0.0';
    const logger = options.logger ?? createLogger();
    const broker = await Broker.open(options.dir, { autoCreateTopics: true, ...(options.broker ?? {}) });
    const metrics = options.metricsPort === undefined ? undefined : new ServerMetrics(broker);
    const grpcServer = new grpc.Server({
      'grpc.max_receive_message_length': MAX_RECEIVE_BYTES,
    });
    let port = 0;
    let self: TidemqServer | undefined;
    const service = new MessagingService({
      broker,
      endpoints: () => endpointsOf(host === '0.0.0.0' ? '127.0.0.1' : host, port),
      closing: () => self?.closing ?? false,
      metrics,
    });
    grpcServer.addService(messagingServiceDefinition(), instrument(service.handlers(), { metrics, logger }));
    let ops: OpsHttpServer | undefined;
    try {
      port = await new Promise<number>((resolve, reject) => {
        grpcServer.bindAsync(
          `${host}:${options.port ?? 8081}`,
          grpc.ServerCredentials.createInsecure(),
          (err, bound) => (err ? reject(err) : resolve(bound)),
        );
      });
      if (metrics) {
        ops = await OpsHttpServer.start({ host, port: options.metricsPort!, broker, metrics, logger });
      }
    } catch (err) {
      grpcServer.forceShutdown();
      await broker.close();
      logger.error({ err }, 'server failed to start');
      throw err;
    }
    self = new TidemqServer(
      broker,
      grpcServer,
      service,
      host,
      port,
      options.shutdownGraceMs ?? 5000,
      logger,
      ops,
      metrics,
    );
    const s = broker.settings;
    logger.info(
      {
        host,
        port,
        dir: broker.store.dir,
        metricsPort: ops?.port,
        autoCreateTopics: s.autoCreateTopics,
        defaultQueues: s.defaultQueues,
        flush: broker.store.config.flush,
        topics: broker.topics().length,
      },
      'server started',
    );
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
    const log = this.logger;
    this.closingFlag = true;
    log.info('shutdown: no new calls; ending telemetry streams and long polls');
    let drainedFlag = false;
    const drained = new Promise<void>((resolve) =>
      this.grpcServer.tryShutdown(() => {
        drainedFlag = true;
        resolve();
      }),
    );
    this.service.endTelemetry();
    this.broker.delivery.wakeAll();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.graceMs);
    });
    await Promise.race([drained, grace]);
    clearTimeout(timer);
    if (drainedFlag) log.info('shutdown: in-flight calls finished');
    else
      log.warn({ graceMs: this.graceMs }, 'shutdown: grace period over, cancelling the calls still running');
    this.grpcServer.forceShutdown();
    await this.ops?.close();
    try {
      await this.broker.close();
    } catch (err) {
      log.error({ err }, 'shutdown: closing the broker failed');
      throw err;
    }
    log.info('shutdown: broker closed, store flushed');
  }
}

function endpointsOf(host: string, port: number): Endpoints {
  const ipv4 = /^\d+\.\d+\.\d+\.\d+$/.test(host);
  return { scheme: ipv4 ? 1 : 3, addresses: [{ host, port }] };
}
