/**
 * Request instrumentation around MessagingService's handler table, kept out of the handlers:
 * latency by method and v2 status code (ServiceMetrics.request), and the log events of the
 * protocol — one line per client's Settings handshake (per Telemetry stream), one per
 * NotifyClientTermination, and internal errors: the first of each method and code, then at most
 * one line per FAILURE_LOG_INTERVAL_MS carrying how many were not logged (a failed store fails
 * every request; the log must not turn that into a line per message). Nothing is logged for a
 * successful message.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from './logger.js';
import type { ServiceMetrics } from './metrics.js';
import { Code } from './status.js';

/** apache.rocketmq.v2.ClientType names, for the log. */
const CLIENT_TYPES = [
  'CLIENT_TYPE_UNSPECIFIED',
  'PRODUCER',
  'PUSH_CONSUMER',
  'SIMPLE_CONSUMER',
  'PULL_CONSUMER',
  'LITE_PUSH_CONSUMER',
  'LITE_SIMPLE_CONSUMER',
];

/** At most one error line per method and code this often. */
const FAILURE_LOG_INTERVAL_MS = 10_000;

export interface InstrumentHooks {
  metrics?: ServiceMetrics | undefined;
  logger?: Logger | undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: grpc-js handlers take decoded protobuf objects
type AnyCall = any;
type Handler = (call: AnyCall, reply?: AnyCall) => void;

/** The same table with every handler wrapped; unchanged when there is nothing to report to. */
export function instrument(
  table: grpc.UntypedServiceImplementation,
  hooks: InstrumentHooks,
): grpc.UntypedServiceImplementation {
  const { metrics, logger } = hooks;
  if (!metrics && !logger) return table;
  const failures = logger && new FailureLog(logger);
  const out: grpc.UntypedServiceImplementation = {};
  for (const [method, handler] of Object.entries(table) as [string, Handler][]) {
    if (method === 'Telemetry') out[method] = logger ? telemetry(handler, logger) : handler;
    else if (method === 'ReceiveMessage') out[method] = serverStream(method, handler, metrics, failures);
    else out[method] = unary(method, handler, metrics, failures, logger);
  }
  return out;
}

function clientIdOf(call: { metadata: grpc.Metadata }): string | undefined {
  const id = call.metadata.get('x-mq-client-id')[0];
  return typeof id === 'string' ? id : undefined;
}

/** Internal errors (v2 code 5xxxx), rate-limited per method and code. */
class FailureLog {
  private readonly last = new Map<string, { atMs: number; suppressed: number }>();

  constructor(private readonly logger: Logger) {}

  note(method: string, call: { metadata: grpc.Metadata }, code: number, message: string | undefined): void {
    if (code < Code.INTERNAL_ERROR) return;
    const key = `${method} ${code}`;
    const now = Date.now();
    const seen = this.last.get(key);
    if (seen && now - seen.atMs < FAILURE_LOG_INTERVAL_MS) {
      seen.suppressed++;
      return;
    }
    const suppressed = seen?.suppressed ?? 0;
    this.last.set(key, { atMs: now, suppressed: 0 });
    this.logger.error(
      { method, code, clientId: clientIdOf(call), err: message, ...(suppressed > 0 ? { suppressed } : {}) },
      'request failed',
    );
  }
}

function unary(
  method: string,
  handler: Handler,
  metrics: ServiceMetrics | undefined,
  failures: FailureLog | undefined,
  logger: Logger | undefined,
): Handler {
  const terminating = method === 'NotifyClientTermination';
  return (call: AnyCall, reply: grpc.sendUnaryData<AnyCall>) => {
    const started = performance.now();
    handler(call, (err: grpc.ServiceError | null, res?: AnyCall) => {
      const code: number = err ? Code.INTERNAL_ERROR : (res?.status?.code ?? Code.OK);
      metrics?.request(method, code, (performance.now() - started) / 1000);
      failures?.note(method, call, code, err ? err.message : res?.status?.message);
      if (terminating) logger?.info({ clientId: clientIdOf(call) }, 'client terminated');
      reply(err, res);
    });
  };
}

/** ReceiveMessage: the first status written is the call's; it ends on finish or cancel. */
function serverStream(
  method: string,
  handler: Handler,
  metrics: ServiceMetrics | undefined,
  failures: FailureLog | undefined,
): Handler {
  return (call: AnyCall) => {
    const started = performance.now();
    let code: number | string | undefined;
    let message: string | undefined;
    const write = call.write;
    call.write = function (this: unknown, chunk: AnyCall, ...rest: unknown[]) {
      if (code === undefined && chunk?.status) {
        code = chunk.status.code;
        message = chunk.status.message;
      }
      return write.call(this, chunk, ...rest);
    };
    let done = false;
    const finish = (cancelled: boolean) => {
      if (done) return;
      done = true;
      const c = cancelled && code === undefined ? 'CANCELLED' : (code ?? Code.OK);
      metrics?.request(method, c, (performance.now() - started) / 1000);
      if (typeof c === 'number') failures?.note(method, call, c, message);
    };
    call.once('finish', () => finish(false));
    call.once('cancelled', () => finish(true));
    handler(call);
  };
}

/** Telemetry: log a client's first Settings on each stream (the client repeats them periodically). */
function telemetry(handler: Handler, logger: Logger): Handler {
  return (call: AnyCall) => {
    let logged = false;
    call.on('data', (cmd: { settings?: { clientType?: number; [k: string]: unknown } }) => {
      if (logged || !cmd?.settings) return;
      logged = true;
      const s = cmd.settings;
      const topics = (s.publishing as { topics?: { name?: string }[] } | undefined)?.topics?.map(
        (t) => t.name,
      );
      const group = (s.subscription as { group?: { name?: string } } | undefined)?.group?.name;
      logger.info(
        {
          clientId: clientIdOf(call),
          client_type: CLIENT_TYPES[s.clientType ?? 0] ?? String(s.clientType),
          ...(topics ? { topics } : {}),
          ...(group ? { group } : {}),
          peer: call.getPeer?.(),
        },
        'client settings',
      );
    });
    handler(call);
  };
}
