/**
 * `tidemq serve`: run the gRPC server until SIGTERM/SIGINT, then shut down gracefully.
 *
 * Every flag has an environment variable; a flag wins over its variable, and an empty variable
 * counts as unset. A value that does not parse is an INVALID_CONFIG error naming the flag or the
 * variable; the ACL, config and TLS files are read and checked before the store is opened.
 */
import { Acl } from '../server/acl.js';
import { readJsonFile, ServerConfigError } from '../server/errors.js';
import { createLogger, LOG_LEVELS } from '../server/logger.js';
import { type ServerOptions, TidemqServer } from '../server/server.js';
import { checkServerConfig } from '../server/server-config.js';
import { readTlsFiles } from '../server/tls.js';

/** What commander hands over: strings as typed, autoCreate only when a flag was given. */
export interface ServeFlags {
  dir?: string;
  port?: string;
  host?: string;
  acl?: string;
  tlsCert?: string;
  tlsKey?: string;
  config?: string;
  autoCreate?: boolean;
  metricsPort?: string;
  adminToken?: string;
  logLevel?: string;
}

export interface ServeOptions {
  dir: string;
  port: number;
  host: string;
  acl?: string;
  tlsCert?: string;
  tlsKey?: string;
  config?: string;
  autoCreate: boolean;
  /** HTTP port for /metrics and the admin API; off when absent. */
  metricsPort?: number;
  /** Bearer token of the admin API (see ops-http.ts). */
  adminToken?: string;
  logLevel: string;
}

/** Shortest admin token accepted (a guessable secret protects nothing). */
const MIN_ADMIN_TOKEN_CHARS = 16;

/** Flag → variable, in the order `tidemq serve --help` lists them. */
export const SERVE_ENV = {
  dir: 'TIDEMQ_DIR',
  port: 'TIDEMQ_PORT',
  host: 'TIDEMQ_HOST',
  acl: 'TIDEMQ_ACL',
  tlsCert: 'TIDEMQ_TLS_CERT',
  tlsKey: 'TIDEMQ_TLS_KEY',
  config: 'TIDEMQ_CONFIG',
  autoCreate: 'TIDEMQ_AUTO_CREATE',
  metricsPort: 'TIDEMQ_METRICS_PORT',
  adminToken: 'TIDEMQ_ADMIN_TOKEN',
  logLevel: 'TIDEMQ_LOG_LEVEL',
} as const;

const FLAG_NAMES: Record<keyof ServeFlags, string> = {
  dir: '--dir',
  port: '--port',
  host: '--host',
  acl: '--acl',
  tlsCert: '--tls-cert',
  tlsKey: '--tls-key',
  config: '--config',
  autoCreate: '--[no-]auto-create',
  metricsPort: '--metrics-port',
  adminToken: '--admin-token',
  logLevel: '--log-level',
};

/** Flags over environment over defaults; throws INVALID_CONFIG naming the flag or variable. */
export function resolveServeOptions(flags: ServeFlags, env: NodeJS.ProcessEnv): ServeOptions {
  const pick = (
    key: Exclude<keyof ServeFlags, 'autoCreate'>,
  ): { value: string; from: string } | undefined => {
    const flag = flags[key];
    if (flag !== undefined) return { value: flag, from: FLAG_NAMES[key] };
    const v = env[SERVE_ENV[key]];
    return v === undefined || v === '' ? undefined : { value: v, from: SERVE_ENV[key] };
  };
  const bad = (from: string, value: string, expected: string): never => {
    throw new ServerConfigError(
      'INVALID_CONFIG',
      `${from}=${JSON.stringify(value)} is not valid: ${expected}.`,
    );
  };

  const portOf = (key: 'port' | 'metricsPort'): number | undefined => {
    const p = pick(key);
    if (!p) return undefined;
    const n = Number(p.value);
    if (!/^\d+$/.test(p.value) || n > 65535) bad(p.from, p.value, 'expected a port number 0..65535');
    return n;
  };
  const portNumber = portOf('port') ?? 8081;
  const metricsPort = portOf('metricsPort');
  const level = pick('logLevel');
  if (level && !(LOG_LEVELS as readonly string[]).includes(level.value))
    bad(level.from, level.value, `expected one of ${LOG_LEVELS.join(', ')}`);
  const logLevel = level?.value ?? 'info';
  let autoCreate = true;
  if (flags.autoCreate !== undefined) autoCreate = flags.autoCreate;
  else {
    const v = env[SERVE_ENV.autoCreate];
    if (v !== undefined && v !== '') {
      if (v === '1' || v === 'true') autoCreate = true;
      else if (v === '0' || v === 'false') autoCreate = false;
      else bad(SERVE_ENV.autoCreate, v, 'expected 1 or 0 (true or false)');
    }
  }
  const out: ServeOptions = {
    dir: pick('dir')?.value ?? './tidemq-data',
    port: portNumber,
    host: pick('host')?.value ?? '0.0.0.0',
    autoCreate,
    logLevel,
  };
  if (metricsPort !== undefined) out.metricsPort = metricsPort;
  const token = pick('adminToken');
  if (token) {
    if (token.value.length < MIN_ADMIN_TOKEN_CHARS || /\s/.test(token.value)) {
      bad(
        token.from,
        '…',
        `expected a secret of at least ${MIN_ADMIN_TOKEN_CHARS} characters without spaces`,
      );
    }
    if (metricsPort === undefined) {
      throw new ServerConfigError(
        'INVALID_CONFIG',
        `${token.from} needs ${FLAG_NAMES.metricsPort} (or ${SERVE_ENV.metricsPort}): the admin API is served on the metrics port.`,
      );
    }
    out.adminToken = token.value;
  }
  for (const key of ['acl', 'tlsCert', 'tlsKey', 'config'] as const) {
    const v = pick(key);
    if (v) out[key] = v.value;
  }
  if ((out.tlsCert === undefined) !== (out.tlsKey === undefined)) {
    const [given, missing] = out.tlsCert === undefined ? ['tlsKey', 'tlsCert'] : ['tlsCert', 'tlsKey'];
    throw new ServerConfigError(
      'INVALID_CONFIG',
      `${FLAG_NAMES[given as 'tlsCert']} needs ${FLAG_NAMES[missing as 'tlsCert']} (or ${SERVE_ENV[missing as 'tlsCert']}): TLS takes a certificate and its key.`,
    );
  }
  return out;
}

/** ServerOptions from the resolved CLI options: reads and checks the ACL, config and TLS files. */
export function serverOptions(opts: ServeOptions): ServerOptions {
  const options: ServerOptions = {
    dir: opts.dir,
    port: opts.port,
    host: opts.host,
    autoCreateTopics: opts.autoCreate,
  };
  if (opts.metricsPort !== undefined) options.metricsPort = opts.metricsPort;
  if (opts.adminToken !== undefined) options.adminToken = opts.adminToken;
  if (opts.acl !== undefined) options.acl = Acl.from(readJsonFile(opts.acl, 'INVALID_ACL'), opts.acl);
  if (opts.config !== undefined) {
    const config = checkServerConfig(readJsonFile(opts.config, 'INVALID_CONFIG'), opts.config);
    options.topics = config.topics;
    options.groups = config.groups;
    options.configSource = opts.config;
  }
  if (opts.tlsCert !== undefined && opts.tlsKey !== undefined)
    options.tls = readTlsFiles(opts.tlsCert, opts.tlsKey);
  return options;
}

export async function serve(opts: ServeOptions): Promise<void> {
  const logger = createLogger(opts.logLevel);
  const server = await TidemqServer.start({ ...serverOptions(opts), logger });
  const features = [
    `store ${opts.dir}`,
    `TLS ${opts.tlsCert ? 'on' : 'off'}`,
    `auth ${opts.acl ? `on (${opts.acl})` : 'off'}`,
    `auto-create ${opts.autoCreate ? 'on' : 'off'}`,
  ];
  process.stdout.write(
    `tidemq: serving apache.rocketmq.v2.MessagingService on ${opts.host}:${server.port} (${features.join('; ')})\n`,
  );
  if (server.metricsPort !== undefined) {
    process.stdout.write(
      `tidemq: metrics on http://${opts.host}:${server.metricsPort}/metrics, admin API on /admin (${opts.adminToken ? 'token required' : 'changes from this host only'})\n`,
    );
  }
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutdown requested');
      process.stdout.write(`tidemq: ${signal}, shutting down\n`);
      server.close().then(resolve, (err: unknown) => {
        process.stderr.write(
          `tidemq: shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`,
        );
        process.exitCode = 1;
        resolve();
      });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  process.stdout.write('tidemq: stopped\n');
}
