/**
 * The Telemetry side of MessagingService: each client's bidirectional stream. Every Settings the
 * client sends is recorded in the session registry (sessions.ts, which also lets transaction
 * check-backs reach the producer that sent the half message) and answered with the server's
 * Settings (telemetry.ts): for consumers, the group's settings as the broker has them now. When
 * a group is changed at run time, its connected clients get their Settings again (groupChanged).
 */
import { optionalClientId, undecodable } from './calls.js';
import { DEFAULT_POLL_MS } from './consumer-service.js';
import { namespaceOf, resourceName } from './convert.js';
import type { ServiceContext } from './messaging-service.js';
import { UndecodableRequest } from './proto.js';
import type { ClientSessions, TelemetryCall } from './sessions.js';
import { Code, status, statusOf } from './status.js';
import { type ClientSettings, isProducer, type SettingsLimits, settingsReply } from './telemetry.js';

/**
 * The first Settings reply of a stream is written again after these delays. A client with
 * several topics fetches their routes one by one, opens Telemetry after the first and only then
 * starts waiting for Settings: a reply that arrives before its last route is lost and startup()
 * never resolves (rocketmq-client-nodejs 1.0.8). A repeat is harmless: Settings may change any time.
 */
const SETTINGS_REPEAT_MS = [250, 1000, 3000];

export class TelemetryService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly sessions: ClientSessions,
    /** Creates the broker producer of a client that declares itself a producer. */
    private readonly producerFor: (clientId: string) => unknown,
  ) {}

  /** One client's Telemetry stream: Settings in, Settings (and check-backs) out. */
  stream(call: TelemetryCall): void {
    const clientId = optionalClientId(call);
    if (clientId === undefined) {
      call.write({ status: status(Code.CLIENT_ID_REQUIRED, 'the x-mq-client-id header is required.') });
      call.end();
      return;
    }
    try {
      // Authenticate the stream itself: an unauthenticated peer must never hold a session (it
      // would receive check-backs of that client id and keep its leases alive).
      this.ctx.authorize?.(call, 'Telemetry', {});
    } catch (err) {
      call.write({ status: statusOf(err) });
      call.end();
      return;
    }
    // The stream joins the client's session with its first authorized Settings, not before.
    let opened = false;
    const repeats: NodeJS.Timeout[] = [];
    call.on('data', (cmd: { settings?: ClientSettings } | UndecodableRequest) => {
      if (cmd instanceof UndecodableRequest) {
        call.write({ status: statusOf(undecodable(cmd)) });
        return;
      }
      let reply: () => object;
      try {
        this.ctx.authorize?.(call, 'Telemetry', cmd);
        if (!cmd.settings) return; // a client's answer to a command the server never sends
        if (!opened) {
          this.sessions.streamOpened(clientId, call);
          opened = true;
        }
        reply = this.onSettings(clientId, namespaceOf(call), cmd.settings);
      } catch (err) {
        // A status-only command: the client's startup() rejects with the mapped exception.
        call.write({ status: statusOf(err) });
        return;
      }
      call.write(reply());
      if (repeats.length > 0) return;
      // A repeat is computed when it is written: a group changed meanwhile must not be undone.
      for (const ms of SETTINGS_REPEAT_MS) {
        const timer = setTimeout(() => {
          if (!call.cancelled && !call.writableEnded) call.write(reply());
        }, ms);
        timer.unref();
        repeats.push(timer);
      }
    });
    const closed = (): void => {
      for (const timer of repeats) clearTimeout(timer);
      if (opened) this.sessions.streamClosed(clientId, call);
    };
    call.on('end', () => {
      closed();
      call.end();
    });
    call.on('error', closed);
    call.on('cancelled', closed);
  }

  /** Record a client's Settings; what makes the reply to write back (with the settings of now). */
  private onSettings(clientId: string, ns: string, settings: ClientSettings): () => object {
    const group = settings.subscription?.group ? resourceName(settings.subscription.group, ns) : undefined;
    const topics = settings.publishing?.topics?.map((t) => resourceName(t, ns));
    this.sessions.settings(clientId, settings.clientType, group, topics, settings);
    if (isProducer(settings) && !this.ctx.closing()) this.producerFor(clientId);
    return () => settingsReply(settings, this.limitsFor(group));
  }

  private limitsFor(group: string | undefined): SettingsLimits {
    const g = group === undefined ? undefined : this.ctx.broker.groupInfo(group);
    return {
      maxBodyBytes: this.ctx.broker.settings.maxBodyBytes,
      maxDeliveryAttempts:
        g?.maxDeliveryAttempts ?? this.ctx.broker.settings.groupDefaults.maxDeliveryAttempts,
      fifo: g?.fifo ?? false,
      longPollingMs: this.ctx.pushLongPollingMs ?? DEFAULT_POLL_MS,
    };
  }

  /**
   * A group's settings changed (tidemq admin configure-group): every client of the group with an
   * open Telemetry stream gets its Settings again with the new values (the official clients
   * apply a Settings command whenever it comes: push consumers take the new retry policy and
   * FIFO flag). Receiving, acking and dead-lettering read the broker's settings at each use.
   */
  groupChanged(group: string): number {
    let told = 0;
    const limits = this.limitsFor(group);
    for (const s of this.sessions.ofGroup(group)) {
      if (!s.lastSettings) continue;
      const reply = settingsReply(s.lastSettings, limits);
      for (const call of s.streams) {
        if (call.cancelled || call.writableEnded) continue;
        call.write(reply);
        told++;
      }
    }
    return told;
  }
}
