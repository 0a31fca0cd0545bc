#!/usr/bin/env node
/** The `tidemq` command line. */
import { Command, InvalidArgumentError } from 'commander';
import { BrokerError } from '../broker/errors.js';
import { StoreError } from '../errors.js';
import { ServerConfigError } from '../server/errors.js';
import { MessageStore } from '../store/message-store.js';
import { AdminError } from './admin.js';
import { addAdminCommand } from './admin-command.js';
import { inspectStore } from './inspect.js';
import { ProgressBar } from './progress-bar.js';
import { resolveServeOptions, SERVE_ENV, type ServeFlags, serve } from './serve.js';
import { verifyStore } from './verify.js';

function int(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

function fail(err: unknown): never {
  const msg =
    err instanceof StoreError ||
    err instanceof BrokerError ||
    err instanceof ServerConfigError ||
    err instanceof AdminError
      ? `${err.code}: ${err.message}`
      : err instanceof Error
        ? err.message
        : String(err);
  process.stderr.write(`tidemq: ${msg}\n`);
  process.exit(2);
}

const program = new Command();
program.name('tidemq').description('RocketMQ-format message store for Node.js').showHelpAfterError();

program
  .command('inspect')
  .description('show segments, topics, queues, offsets, lag and index files; or one message')
  .argument('<dir>', 'store directory (tidemq or RocketMQ)')
  .option('--offset <n>', 'the message at this physical offset', int)
  .option('--topic <topic>', 'topic (with --queue or --key)')
  .option('--queue <id>', 'list messages of this queue of --topic', int)
  .option('--from <n>', 'first queue offset to list', int)
  .option('--count <n>', 'messages to list (default 10)', int)
  .option('--key <key>', 'messages of --topic with this key')
  .action((dir: string, opts) => {
    try {
      process.stdout.write(`${JSON.stringify(inspectStore(dir, opts), null, 2)}\n`);
    } catch (err) {
      fail(err);
    }
  });

program
  .command('verify')
  .description('CRC-check every record and every consume queue entry; exit 0 when sound, 1 when not')
  .argument('<dir>', 'store directory (tidemq or RocketMQ)')
  .option('--json', 'print the report as JSON')
  .action((dir: string, opts: { json?: boolean }) => {
    try {
      const r = verifyStore(dir);
      if (opts.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      else {
        process.stdout.write(
          `${r.segments} segments, ${r.records} records, ${r.consumeQueues} consume queues, ${r.entries} entries checked\n`,
        );
        for (const p of r.problems) process.stdout.write(`problem: ${p}\n`);
        process.stdout.write(
          r.problems.length === 0 ? 'store is sound\n' : `${r.problems.length} problem(s) found\n`,
        );
      }
      process.exitCode = r.problems.length === 0 ? 0 : 1;
    } catch (err) {
      fail(err);
    }
  });

program
  .command('rebuild')
  .description('delete consume queues and the key index and rebuild them from the commit log on all workers')
  .argument('<dir>', 'store directory')
  .action(async (dir: string) => {
    try {
      const started = Date.now();
      const store = await MessageStore.open(dir, { rebuild: true });
      const bar = new ProgressBar('rebuild');
      const total = store.stats().wrotePosition - store.stats().minOffset;
      const done = store.waitForDispatch();
      let finished = false;
      done.finally(() => {
        finished = true;
      });
      while (!finished) {
        const s = store.stats();
        bar.update(
          s.dispatchedPosition - s.minOffset,
          total,
          `${(s.dispatchedPosition / 1e6).toFixed(0)} MB`,
        );
        await new Promise((r) => setTimeout(r, 100));
      }
      await done;
      const secs = (Date.now() - started) / 1000;
      bar.done(
        `${(total / 1e6).toFixed(1)} MB in ${secs.toFixed(2)} s (${(total / 1e6 / secs).toFixed(0)} MB/s)`,
      );
      await store.close();
    } catch (err) {
      fail(err);
    }
  });

program
  .command('serve')
  .description(
    'serve the broker over RocketMQ 5 gRPC (apache.rocketmq.v2.MessagingService); every flag also reads an env var, and the flag wins',
  )
  .option('--dir <dir>', `store directory (${SERVE_ENV.dir}; default ./tidemq-data)`)
  .option('--port <port>', `TCP port, 0 for any free one (${SERVE_ENV.port}; default 8081)`)
  .option('--host <host>', `listen address (${SERVE_ENV.host}; default 0.0.0.0)`)
  .option('--acl <file>', `ACL file; auth is on exactly when one is given (${SERVE_ENV.acl})`)
  .option('--tls-cert <file>', `PEM certificate chain; TLS with --tls-key (${SERVE_ENV.tlsCert})`)
  .option('--tls-key <file>', `PEM private key of --tls-cert (${SERVE_ENV.tlsKey})`)
  .option('--config <file>', `topics and groups to declare at start (${SERVE_ENV.config})`)
  .option('--auto-create', `create unknown topics on first use (${SERVE_ENV.autoCreate}=1; the default)`)
  .option('--no-auto-create', `unknown topics get TOPIC_NOT_FOUND (${SERVE_ENV.autoCreate}=0)`)
  .option(
    '--metrics-port <port>',
    `HTTP port for /metrics and the admin API, 0 for any free one (${SERVE_ENV.metricsPort}; off when unset)`,
  )
  .option(
    '--admin-token <token>',
    `secret the admin API asks for (Authorization: Bearer); with it, changes are accepted from any host (${SERVE_ENV.adminToken}; prefer the variable: flags show in ps)`,
  )
  .option(
    '--log-level <level>',
    `fatal|error|warn|info|debug|trace|silent, JSON lines on stderr (${SERVE_ENV.logLevel}; default info)`,
  )
  .action(async (flags: ServeFlags) => {
    try {
      await serve(resolveServeOptions(flags, process.env));
    } catch (err) {
      fail(err);
    }
  });

addAdminCommand(program, fail);

program
  .command('bench')
  .description('run the benchmark suite (same options as npm run bench)')
  .allowUnknownOption(true)
  .helpOption(false)
  .argument('[args...]')
  .action(async (args: string[]) => {
    try {
      // The suite lives beside the package (dist/bench), not in what `npm pack` ships.
      const modulePath = '../../bench/run.js';
      const { runBench } = (await import(modulePath)) as { runBench: (argv: string[]) => Promise<unknown> };
      await runBench(args);
    } catch (err) {
      fail(err);
    }
  });

program.parseAsync(process.argv).catch(fail);
