/**
 * TidemqServer: the embedded broker on the network as apache.rocketmq.v2.MessagingService over
 * HTTP/2 (grpc-js; plaintext, or TLS with `tls`), so the official RocketMQ 5 clients work against
 * it unchanged. With `acl` every request is authenticated and authorized (auth.ts); `topics` are
 * created and `groups` configured in the broker (persisted) at start (server-config.ts says what a
 * restart with another file does). All of it is validated before the store is opened.
 *
 * Shutdown: stop accepting calls, end Telemetry streams, let parked long polls answer "no new
 * message", wait for in-flight calls (up to a grace period, then cancel them), close the broker.
 *
 * Operations: structured logs (pino, `logger`), and with `metricsPort` an HTTP port serving
 * Prometheus metrics and the JSON admin API (ops-http.ts).
 */
import * as grpc from '@grpc/grpc-js';
import { Broker } from '../broker/broker.js';
import { BrokerError } from '../broker/errors.js';
import type { GroupInfo } from '../broker/group-registry.js';
import type { BrokerOptions } from '../broker/types.js';
import { Acl, type AclConfig } from './acl.js';
import { type ConfigureGroupRequest, configureGroup } from './admin.js';
import { Authorizer } from './auth.js';
import type { Endpoints } from './convert.js';
import { instrument } from './instrument.js';
import { createLogger, type Logger } from './logger.js';
import { MessagingService } from './messaging-service.js';
import { ServerMetrics } from './metrics.js';
import { OpsHttpServer } from './ops-http.js';
import { servingDefinition } from './proto.js';
import {
  checkServerConfig,
  type GroupSettings,
  plannedGroups,
  plannedTopics,
  type TopicSettings,
} from './server-config.js';
import type { ClientSessions } from './sessions.js';
import { serverCredentials, type TlsOptions } from './tls.js';

export interface ServerOptions {
  /** Store directory. */
  dir: string;
  /** TCP port; 0 picks a free one (default 8081). */
  port?: number;
  /** Listen address (default 0.0.0.0). */
  host?: string;
  /** Broker options (autoCreateTopics here is overridden by the option below). */
  broker?: BrokerOptions;
  /** Create unknown topics on first use as MIXED with 4 queues (default true). */
  autoCreateTopics?: boolean;
  /** Topics created (or updated: type, more queues) at start. */
  topics?: Record<string, TopicSettings>;
  /** Consumer group settings, stored in the broker at start (broker.configureGroup). */
  groups?: Record<string, GroupSettings>;
  /** Accounts and permissions; auth is on exactly when this is given. */
  acl?: AclConfig | Acl;
  /** TLS certificate and key; plaintext when absent. */
  tls?: TlsOptions;
  /** Names where topics/groups/acl came from in configuration errors (e.g. the config file). */
  configSource?: string;
  /** In-flight calls get this long to finish on close before they are cancelled (default 5 000 ms). */
  shutdownGraceMs?: number;
  /** HTTP port for /metrics and the /admin API; 0 picks a free one (see `metricsPort`); off when absent. */
  metricsPort?: number;
  /**
   * Secret the admin API asks for (`Authorization: Bearer <token>`) on every /admin request; with
   * it, changes are accepted from any host. Without it, changes come from loopback only.
   */
  adminToken?: string;
  /** Structured log (default: pino to stderr at TIDEMQ_LOG_LEVEL, else 'info'). */
  logger?: Logger;
  /**
   * A connection with no call open for this long is closed (default 300 000 ms). Clients
   * reconnect on their next call; the official clients always hold a Telemetry stream open. This
   * also drops connections that never finish the HTTP/2 handshake (a truncated preface).
   */
  idleConnectionMs?: number;
  /** Invisible time of push deliveries (auto-renew), renewed while the client lives (default 60 000 ms). */
  leaseMs?: number;
  /** Long-polling time push consumers are told to use (default 20 000 ms; their shutdown waits for it). */
  pushLongPollingMs?: number;
}

/** Larger than the largest body (4 MiB − 32 KiB) plus properties, as the client's sends need. */
const MAX_RECEIVE_BYTES = 16 * 1024 * 1024;
const DEFAULT_IDLE_CONNECTION_MS = 300_000;

/**
 * grpc-js server options. Channelz (grpc-js's built-in introspection service, which nothing here
 * serves) is off: when on, every call allocates a tracker closure set and a Date per message
 * sent and received.
 */
export const GRPC_SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.max_receive_message_length': MAX_RECEIVE_BYTES,
  'grpc.enable_channelz': 0,
};

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

  /** The stored settings of a consumer group (broker name); {} when it has none. */
  groupSettings(group: string): GroupSettings {
    return { ...(this.broker.groupConfig.config(group) ?? {}) };
  }

  /** Open the broker and listen. */
  static async start(options: ServerOptions): Promise<TidemqServer> {
    const host = options.host ?? '0.0.0.0';
    for (const [name, v] of [
      ['leaseMs', options.leaseMs],
      ['pushLongPollingMs', options.pushLongPollingMs],
    ] as const) {
      if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 1)) {
        throw new BrokerError('BAD_REQUEST', `${name} must be a positive number of ms, got ${String(v)}.`);
      }
    }
    const logger = options.logger ?? createLogger();
    const source = options.configSource ?? 'ServerOptions';
    const config = checkServerConfig({ topics: options.topics ?? {}, groups: options.groups ?? {} }, source);
    const acl =
      options.acl === undefined
        ? undefined
        : options.acl instanceof Acl
          ? options.acl
          : Acl.from(options.acl, 'ServerOptions.acl');
    const credentials = serverCredentials(options.tls);
    const broker = await Broker.open(options.dir, {
      ...(options.broker ?? {}),
      autoCreateTopics: options.autoCreateTopics ?? options.broker?.autoCreateTopics ?? true,
    });
    try {
      const plan = plannedTopics(
        config.topics,
        (n) => broker.getTopic(n),
        broker.settings.defaultQueues,
        source,
      );
      for (const t of plan) broker.createTopic(t.name, { queues: t.queues, type: t.type });
      for (const g of plannedGroups(config.groups, (n) => broker.groupConfig.config(n))) {
        await broker.configureGroup(g.name, g.settings);
        logger.info(
          { group: g.name, settings: g.settings, previous: g.previous ?? null, source },
          'group settings from the configuration',
        );
      }
    } catch (err) {
      await broker.close();
      throw err;
    }
    const authorizer = acl && new Authorizer(acl);
    const metrics = options.metricsPort === undefined ? undefined : new ServerMetrics(broker);
    const grpcServer = new grpc.Server({
      ...GRPC_SERVER_OPTIONS,
      'grpc.max_connection_idle_ms': options.idleConnectionMs ?? DEFAULT_IDLE_CONNECTION_MS,
    });
    let port = 0;
    let self: TidemqServer | undefined;
    const service = new MessagingService({
      broker,
      endpoints: () => endpointsOf(host === '0.0.0.0' ? '127.0.0.1' : host, port),
      closing: () => self?.closing ?? false,
      ...(authorizer && { authorize: authorizer.authorize.bind(authorizer) }),
      metrics,
      ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
      ...(options.pushLongPollingMs === undefined ? {} : { pushLongPollingMs: options.pushLongPollingMs }),
    });
    grpcServer.addService(servingDefinition(), instrument(service.handlers(), { metrics, logger }));
    let ops: OpsHttpServer | undefined;
    try {
      port = await new Promise<number>((resolve, reject) => {
        grpcServer.bindAsync(`${host}:${options.port ?? 8081}`, credentials, (err, bound) =>
          err ? reject(err) : resolve(bound),
        );
      });
      if (metrics) {
        ops = await OpsHttpServer.start({
          host,
          port: options.metricsPort!,
          broker,
          metrics,
          logger,
          adminToken: options.adminToken,
          groupChanged: (group) => service.groupChanged(group),
        });
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
        tls: options.tls !== undefined,
        auth: acl !== undefined,
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

  /**
   * Change a consumer group's settings at run time, as `tidemq admin configure-group` does
   * (request fields as in admin.configureGroup): persisted, followed at once by receiving and
   * dead-lettering, and sent to the group's connected clients as new Settings.
   */
  async configureGroup(request: ConfigureGroupRequest): Promise<GroupInfo> {
    const info = await configureGroup(this.broker, request);
    this.service.groupChanged(info.name);
    return info;
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
    this.service.close();
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
