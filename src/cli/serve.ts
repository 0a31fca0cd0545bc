/** `tidemq serve`: run the gRPC server until SIGTERM/SIGINT, then shut down gracefully. */
import { TidemqServer } from '../server/server.js';

export interface ServeOptions {
  dir: string;
  port: number;
  host: string;
}

export async function serve(opts: ServeOptions): Promise<void> {
  const server = await TidemqServer.start({ dir: opts.dir, port: opts.port, host: opts.host });
  process.stdout.write(
    `tidemq: serving apache.rocketmq.v2.MessagingService on ${opts.host}:${server.port} (store ${opts.dir})\n`,
  );
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
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
