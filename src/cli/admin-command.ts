/**
 * The `tidemq admin` command tree (commander): target options (--dir | --server, --json) on
 * `admin`, one subcommand per operation.
 *
 *   tidemq admin --dir ./data topics
 *   tidemq admin --server http://127.0.0.1:9090 groups
 *   tidemq admin ... lag [--group g] [--topic t]
 *   tidemq admin ... create-topic orders [--queues 8] [--type FIFO]
 *   tidemq admin ... reset-offset billing orders --to earliest|latest|<ms>|<ISO date>
 *   tidemq admin ... configure-group billing [--max-attempts 5] [--fifo|--no-fifo]
 *                    [--retry-backoff 1000,5000,30000] [--reset]
 */
import { type Command, InvalidArgumentError } from 'commander';
import {
  AdminError,
  type AdminTarget,
  formatGroupSettings,
  formatGroups,
  formatLag,
  formatReset,
  formatTopic,
  formatTopics,
  openTarget,
} from './admin.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** "1000,5000,30000": delays in ms, each a non-negative integer. */
function backoffList(value: string): number[] {
  const parts = value.split(',').map((p) => p.trim());
  const ms = parts.map(Number);
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p)) || ms.some((n) => !Number.isSafeInteger(n))) {
    throw new InvalidArgumentError('expected delays in ms separated by commas, e.g. 1000,5000,30000');
  }
  return ms;
}

export function addAdminCommand(program: Command, fail: (err: unknown) => never): void {
  const admin = program
    .command('admin')
    .description('list and change topics, consumer groups, offsets and lag (stopped store or running server)')
    .option('--dir <dir>', 'a stopped store directory (the broker is opened directly)')
    .option('--server <url>', 'a running server: http://host:<metrics-port> (its admin API)')
    .option('--token <token>', "the server's admin token, if it has one (default: TIDEMQ_ADMIN_TOKEN)")
    .option('--json', 'print JSON instead of a table');

  const run =
    <T>(
      op: (target: AdminTarget, args: string[], opts: Record<string, unknown>) => Promise<T>,
      format: (r: T) => string,
    ) =>
    async (...actionArgs: unknown[]): Promise<void> => {
      const cmd = actionArgs[actionArgs.length - 1] as Command;
      const opts = actionArgs[actionArgs.length - 2] as Record<string, unknown>;
      const args = actionArgs.slice(0, -2) as string[];
      const g = cmd.optsWithGlobals() as { dir?: string; server?: string; token?: string; json?: boolean };
      const token = g.token ?? (process.env.TIDEMQ_ADMIN_TOKEN || undefined);
      try {
        const target = await openTarget({
          dir: g.dir,
          server: g.server,
          ...(token === undefined ? {} : { token }),
        });
        try {
          const result = await op(target, args, opts);
          process.stdout.write(g.json ? `${JSON.stringify(result, null, 2)}\n` : format(result));
        } finally {
          await target.close();
        }
      } catch (err) {
        fail(err);
      }
    };

  admin
    .command('topics')
    .description('topics with their type, queue count and retained messages')
    .action(run((t) => t.topics(), formatTopics));

  admin
    .command('groups')
    .description('consumer groups with their topics, total lag and messages in flight')
    .action(run((t) => t.groups(), formatGroups));

  admin
    .command('lag')
    .description('per queue: consumer offset, max offset, lag and messages in flight')
    .option('--group <group>', 'only this consumer group')
    .option('--topic <topic>', 'only this topic')
    .action(
      run(
        (t, _a, o) =>
          t.lag({
            ...(typeof o.group === 'string' ? { group: o.group } : {}),
            ...(typeof o.topic === 'string' ? { topic: o.topic } : {}),
          }),
        formatLag,
      ),
    );

  admin
    .command('create-topic')
    .description('create a topic, or grow its queue count / change its type')
    .argument('<name>', 'topic name')
    .option('--queues <n>', 'queue count (default: the broker default, 4)', positiveInt)
    .option('--type <type>', 'NORMAL, FIFO, DELAY, TRANSACTION, PRIORITY or MIXED (default NORMAL)')
    .action(
      run(
        (t, [name], o) =>
          t.createTopic({
            name: name!,
            ...(o.queues !== undefined ? { queues: o.queues as number } : {}),
            ...(typeof o.type === 'string' ? { type: o.type } : {}),
          }),
        formatTopic,
      ),
    );

  admin
    .command('reset-offset')
    .description("move a group's offsets on every queue of a topic (messages in flight are forgotten)")
    .argument('<group>', 'consumer group')
    .argument('<topic>', 'topic')
    .requiredOption('--to <target>', 'earliest, latest, a time in ms since the epoch, or an ISO 8601 date')
    .action(
      run(
        (t, [group, topic], o) => t.resetOffset({ group: group!, topic: topic!, to: String(o.to) }),
        formatReset,
      ),
    );

  admin
    .command('configure-group')
    .description(
      "change a consumer group's settings (persisted; a running server's consumers follow at once); " +
        'settings not given stay as they are',
    )
    .argument('<group>', 'consumer group')
    .option('--max-attempts <n>', 'deliveries before a message moves to %DLQ%<group>', positiveInt)
    .option('--fifo', 'consume each message group in order, one message in flight')
    .option('--no-fifo', 'no FIFO consumption, whatever the topic type')
    .option('--topic-fifo', 'back to the default: FIFO exactly on FIFO topics')
    .option('--retry-backoff <ms,ms,...>', 'nack backoff by retry number, in ms', backoffList)
    .option('--reset', "forget the group's settings (back to the broker defaults)")
    .action(
      run((t, [group], o) => {
        if (o.topicFifo === true && o.fifo !== undefined) {
          throw new AdminError('BAD_REQUEST', 'give one of --fifo, --no-fifo and --topic-fifo.');
        }
        return t.configureGroup({
          group: group!,
          ...(o.maxAttempts !== undefined ? { maxDeliveryAttempts: o.maxAttempts as number } : {}),
          ...(o.topicFifo === true ? { fifo: null } : typeof o.fifo === 'boolean' ? { fifo: o.fifo } : {}),
          ...(o.retryBackoff !== undefined ? { retryBackoffMs: o.retryBackoff as number[] } : {}),
          ...(o.reset === true ? { reset: true } : {}),
        });
      }, formatGroupSettings),
    );
}
