/**
 * ClientSessions: what the server knows about each client, keyed by its x-mq-client-id (fixed
 * for one client instance): its type and group, the topics a producer publishes, its open
 * Telemetry streams, how many Settings it sent, and when it was last heard from.
 *
 * Used for: server-to-client commands (transaction check-back goes to the producer that sent
 * the half message, or another live producer of the topic), liveness of auto-renewed leases
 * (a client is alive while a Telemetry stream is open or its last heartbeat is recent), and
 * inspection (`list()`, and `disconnect()`, which ends a client's streams as a proxy restart
 * would; the client reopens them and sends its Settings again).
 */
import type * as grpc from '@grpc/grpc-js';
import type { ClientSettings } from './telemetry.js';

/** apache.rocketmq.v2.ClientType */
export const ClientType = { PRODUCER: 1, PUSH_CONSUMER: 2, SIMPLE_CONSUMER: 3 } as const;

/** A client is alive this long after its last heartbeat without a Telemetry stream (RocketMQ: 30 s). */
const HEARTBEAT_LIVENESS_MS = 30_000;
/** A client with no stream, silent this long (a crash: no NotifyClientTermination), is forgotten. */
const FORGET_AFTER_MS = 10 * HEARTBEAT_LIVENESS_MS;

// biome-ignore lint/suspicious/noExplicitAny: decoded protobuf objects are plain JS objects
export type TelemetryCall = grpc.ServerDuplexStream<any, object>;

export interface ClientSession {
  readonly clientId: string;
  clientType: number | undefined;
  /** Consumer group (consumers). */
  group: string | undefined;
  /** Topics a producer declared in its Settings. */
  topics: string[];
  /** Settings commands received on all streams so far. */
  settingsCount: number;
  /** The last Settings the client sent (answered again when its group's settings change). */
  lastSettings: ClientSettings | undefined;
  /** Telemetry streams opened so far (1 + reopens). */
  streamsOpened: number;
  lastSeenMs: number;
  /** NotifyClientTermination arrived; the session goes once its streams have ended too. */
  terminated: boolean;
  readonly streams: Set<TelemetryCall>;
}

/** What list() reports for one client. */
export interface ClientSessionInfo {
  clientId: string;
  clientType: number | undefined;
  group: string | undefined;
  topics: string[];
  settingsCount: number;
  streamsOpened: number;
  openStreams: number;
  terminated: boolean;
}

export class ClientSessions {
  private readonly sessions = new Map<string, ClientSession>();

  get(clientId: string): ClientSession | undefined {
    return this.sessions.get(clientId);
  }

  private touch(clientId: string): ClientSession {
    let s = this.sessions.get(clientId);
    if (!s) {
      this.forgetSilent();
      s = {
        clientId,
        clientType: undefined,
        group: undefined,
        topics: [],
        settingsCount: 0,
        lastSettings: undefined,
        streamsOpened: 0,
        lastSeenMs: Date.now(),
        terminated: false,
        streams: new Set(),
      };
      this.sessions.set(clientId, s);
    }
    s.lastSeenMs = Date.now();
    return s;
  }

  heartbeat(clientId: string, clientType: number | undefined, group: string | undefined): void {
    const s = this.touch(clientId);
    if (clientType) s.clientType = clientType;
    if (group) s.group = group;
  }

  streamOpened(clientId: string, call: TelemetryCall): void {
    const s = this.touch(clientId);
    s.streams.add(call);
    s.streamsOpened++;
  }

  streamClosed(clientId: string, call: TelemetryCall): void {
    const s = this.sessions.get(clientId);
    if (!s) return;
    s.streams.delete(call);
    s.lastSeenMs = Date.now();
    if (s.terminated && s.streams.size === 0) this.sessions.delete(clientId);
  }

  settings(
    clientId: string,
    clientType: number | undefined,
    group: string | undefined,
    topics: string[] | undefined,
    sent?: ClientSettings,
  ): ClientSession {
    const s = this.touch(clientId);
    s.settingsCount++;
    if (sent) s.lastSettings = sent;
    if (clientType) s.clientType = clientType;
    if (group) s.group = group;
    if (topics) s.topics = topics;
    return s;
  }

  /** Sessions of the consumers of a group (broker name). */
  ofGroup(group: string): ClientSession[] {
    return [...this.sessions.values()].filter((s) => s.group === group && !s.terminated);
  }

  private forgetSilent(): void {
    const before = Date.now() - FORGET_AFTER_MS;
    for (const [id, s] of this.sessions)
      if (s.streams.size === 0 && s.lastSeenMs < before) this.sessions.delete(id);
  }

  /** A Telemetry stream open or a recent heartbeat. */
  alive(clientId: string): boolean {
    const s = this.sessions.get(clientId);
    if (!s || s.terminated) return false;
    return s.streams.size > 0 || Date.now() - s.lastSeenMs < HEARTBEAT_LIVENESS_MS;
  }

  /** An open Telemetry stream of the client, if any. */
  streamOf(clientId: string): TelemetryCall | undefined {
    const s = this.sessions.get(clientId);
    if (!s) return undefined;
    for (const call of s.streams) if (!call.cancelled && !call.writableEnded) return call;
    return undefined;
  }

  /** An open stream of a producer that publishes `topic`, other than `except`. */
  producerStreamFor(topic: string, except?: string): TelemetryCall | undefined {
    for (const s of this.sessions.values()) {
      if (s.clientId === except || s.clientType !== ClientType.PRODUCER || !s.topics.includes(topic))
        continue;
      const call = this.streamOf(s.clientId);
      if (call) return call;
    }
    return undefined;
  }

  /** The client said goodbye (NotifyClientTermination); forgotten once its streams end. */
  terminate(clientId: string): void {
    const s = this.sessions.get(clientId);
    if (!s) return;
    s.terminated = true;
    if (s.streams.size === 0) this.sessions.delete(clientId);
  }

  /** End the server side of every Telemetry stream of a client; returns how many were open. */
  disconnect(clientId: string): number {
    const s = this.sessions.get(clientId);
    if (!s) return 0;
    const n = s.streams.size;
    for (const call of s.streams) call.end();
    s.streams.clear();
    return n;
  }

  /** End every stream (server shutdown). */
  endAll(): void {
    for (const s of this.sessions.values()) {
      for (const call of s.streams) call.end();
      s.streams.clear();
    }
  }

  list(): ClientSessionInfo[] {
    return [...this.sessions.values()].map((s) => ({
      clientId: s.clientId,
      clientType: s.clientType,
      group: s.group,
      topics: [...s.topics],
      settingsCount: s.settingsCount,
      streamsOpened: s.streamsOpened,
      openStreams: s.streams.size,
      terminated: s.terminated,
    }));
  }
}
