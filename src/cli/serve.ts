/** `tidemq serve`: run the gRPC server until SIGTERM/SIGINT, then shut down gracefully. */
import { createLogger } from '../server/logger.js';
import { TidemqServer } from '../server/server.js';

export interface ServeOptions {
  dir: string;
  port: number;
  host: string;
  /** HTTP port for /metrics and the admin API; off when absent. */
  metricsPort?: number;
  logLevel?: string;
}

export async function serve(opts: ServeOptions): Promise<void> {
  const logger = createLogger(opts.logLevel);
  const server = await TidemqServer.start({
    dir: opts.dir,
    port: opts.port,
    host: opts.host,
    logger,
    ...(opts.metricsPort !== undefined ? { metricsPort: opts.metricsPort } : {}),
  });
  process.stdout.write(
    `tidemq: serving apache.rocketmq.v2.MessagingService on ${opts.host}:${server.port} (store ${opts.dir})\n`,
  );
  if (server.metricsPort !== undefined) {
    process.stdout.write(
      `tidemq: metrics on http://${opts.host}:${server.metricsPort}/metrics, admin API on /admin\n`,
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
