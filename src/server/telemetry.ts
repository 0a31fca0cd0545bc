/**
 * The Telemetry stream's settings handshake. The client's first command (and one every few
 * minutes, and after each reopen) is its Settings; the server answers every one with status OK
 * and the same settings merged with what the server decides: an exponential backoff policy (a
 * producer client crashes without one), a non-zero max body size, and for consumers the group's
 * FIFO flag, its delivery attempts (the push client's local FIFO retry limit and the DLQ
 * threshold), a receive batch size and the push long-polling time.
 *
 * The server also writes commands of its own: `recover_orphaned_transaction_command` asks a
 * producer to check a transaction; the answer comes back as EndTransaction.
 */
import type { Duration } from './convert.js';
import { ClientType } from './sessions.js';
import { OK } from './status.js';

export interface ClientSettings {
  clientType?: number;
  publishing?: { topics?: { name?: string }[]; [field: string]: unknown };
  subscription?: { group?: { name?: string }; [field: string]: unknown };
  [field: string]: unknown;
}

/** What the server decides for one client's Settings. */
export interface SettingsLimits {
  maxBodyBytes: number;
  /** The consumer group's delivery attempts (backoff_policy.max_attempts). */
  maxDeliveryAttempts: number;
  /** The consumer group consumes in order (subscription.fifo). */
  fifo: boolean;
  /** Long-polling time told to push consumers (they send none). */
  longPollingMs: number;
}

const seconds = (s: number): Duration => ({ seconds: s, nanos: 0 });
const millis = (ms: number): Duration => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });

export function isProducer(client: ClientSettings): boolean {
  return client.clientType === ClientType.PRODUCER || client.publishing !== undefined;
}

/** The Settings the server sends back for a client's Settings. */
export function answerSettings(client: ClientSettings, limits: SettingsLimits): object {
  if (isProducer(client)) {
    return {
      ...client,
      backoffPolicy: {
        maxAttempts: 3,
        exponentialBackoff: { initial: { seconds: 0, nanos: 10_000_000 }, max: seconds(1), multiplier: 2 },
      },
      publishing: {
        ...(client.publishing ?? {}),
        maxBodySize: limits.maxBodyBytes,
        validateMessageType: true,
      },
    };
  }
  const sub = client.subscription ?? {};
  return {
    ...client,
    // The Node client reads initial/max seconds as milliseconds: nack delays of 1, 2, 4 … 60 ms.
    backoffPolicy: {
      maxAttempts: limits.maxDeliveryAttempts,
      exponentialBackoff: { initial: seconds(1), max: seconds(60), multiplier: 2 },
    },
    subscription: {
      ...sub,
      fifo: limits.fifo,
      receiveBatchSize: 32,
      longPollingTimeout: sub.longPollingTimeout ?? millis(limits.longPollingMs),
    },
  };
}

export function settingsReply(client: ClientSettings, limits: SettingsLimits): object {
  return { status: OK, settings: answerSettings(client, limits) };
}

/** The check-back command for a half message (`message` as delivered, type TRANSACTION). */
export function recoverCommand(transactionId: string, message: object): object {
  return { recoverOrphanedTransactionCommand: { message, transactionId } };
}
