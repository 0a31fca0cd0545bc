/**
 * The Telemetry stream's settings handshake. The client's first command (and one every few
 * minutes, and after each reopen) is its Settings; the server answers every one with status OK
 * and the same settings merged with what the server decides: an exponential backoff policy (a
 * producer client crashes without one), a non-zero max body size and a receive batch size.
 */
import type { Duration } from './convert.js';
import { OK } from './status.js';

/** apache.rocketmq.v2.ClientType */
const PRODUCER = 1;

export interface ClientSettings {
  clientType?: number;
  publishing?: Record<string, unknown>;
  subscription?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface ServerLimits {
  maxBodyBytes: number;
  maxDeliveryAttempts: number;
}

const seconds = (s: number): Duration => ({ seconds: s, nanos: 0 });

/** The Settings the server sends back for a client's Settings. */
export function answerSettings(client: ClientSettings, limits: ServerLimits): object {
  if (client.clientType === PRODUCER || client.publishing) {
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
    backoffPolicy: {
      maxAttempts: limits.maxDeliveryAttempts,
      exponentialBackoff: { initial: seconds(1), max: seconds(60), multiplier: 2 },
    },
    subscription: {
      ...sub,
      fifo: sub.fifo ?? false,
      receiveBatchSize: 32,
      longPollingTimeout: sub.longPollingTimeout ?? seconds(20),
    },
  };
}

export function settingsReply(client: ClientSettings, limits: ServerLimits): object {
  return { status: OK, settings: answerSettings(client, limits) };
}
