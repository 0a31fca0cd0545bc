/**
 * The server's structured log: pino, JSON lines on stderr. Only events are logged (start,
 * client handshakes and terminations, errors, shutdown steps), never the message path.
 */
import { type Logger, pino } from 'pino';
import { ServerConfigError } from './errors.js';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A level named by the user (flag or env var); anything else is an INVALID_CONFIG naming `source`. */
export function checkLogLevel(level: string, source: string): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new ServerConfigError(
    'INVALID_CONFIG',
    `${source} must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}.`,
  );
}

/** pino to stderr (synchronous writes: the few lines a server logs are never lost on a crash). */
export function createLogger(level: string = process.env.TIDEMQ_LOG_LEVEL ?? 'info'): Logger {
  const checked = checkLogLevel(level, 'the log level (--log-level / TIDEMQ_LOG_LEVEL)');
  return pino({ name: 'tidemq', level: checked }, pino.destination({ dest: 2, sync: true }));
}
