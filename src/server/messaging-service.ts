/**
 * apache.rocketmq.v2.MessagingService: a thin translation of the embedded broker's API onto the
 * wire. Every application error is a gRPC OK carrying a v2 Status (status.ts); only a broken
 * server answers with a gRPC error. This file holds the handler table (decoding failures and
 * authorization first), routes and assignments, heartbeats and client termination; the work is
 * done by three parts along the protocol's seams:
 *
 *   producer-service.ts   SendMessage, EndTransaction, RecallMessage, transaction check-back
 *   consumer-service.ts   ReceiveMessage, AckMessage, ChangeInvisibleDuration, dead-lettering
 *   telemetry-service.ts  the Telemetry stream: Settings handshake, Settings on group changes
 *
 * They share the session registry (sessions.ts): which clients are alive (leases), which
 * stream reaches a producer (check-backs), which clients belong to a group (Settings).
 */
import type * as grpc from '@grpc/grpc-js';
import type { Broker } from '../broker/broker.js';
import {
  clientIdOf,
  optionalClientId,
  type ReceiveCall,
  type Reply,
  type Unary,
  undecodable,
} from './calls.js';
import { ConsumerService } from './consumer-service.js';
import { type Endpoints, messageQueues, namespaceOf, resourceName } from './convert.js';
import type { ServiceMetrics } from './metrics.js';
import { ProducerService } from './producer-service.js';
import { UndecodableRequest } from './proto.js';
import { ClientSessions, type TelemetryCall } from './sessions.js';
import { OK, statusOf } from './status.js';
import { TelemetryService } from './telemetry-service.js';

export interface ServiceContext {
  readonly broker: Broker;
  /** host:port clients use when a request carries no endpoints. */
  readonly endpoints: () => Endpoints;
  readonly closing: () => boolean;
  /** Message counts for Prometheus (srv-ops); absent: nothing is counted. */
  readonly metrics?: ServiceMetrics | undefined;
  /**
   * Authentication and authorization of one request (a Telemetry command counts as one):
   * throws a ProtocolError (UNAUTHORIZED / FORBIDDEN) to refuse it. Absent: everything is allowed.
   */
  readonly authorize?: (call: { metadata: grpc.Metadata }, method: string, request: unknown) => void;
  /** Invisible time of auto-renewed (push) deliveries, renewed while the client lives. */
  readonly leaseMs?: number;
  /** Long-polling time push consumers are told in Settings (they send none). */
  readonly pushLongPollingMs?: number;
}

export class MessagingService {
  /** Clients seen, with their Telemetry streams. */
  readonly sessions = new ClientSessions();
  private readonly producing: ProducerService;
  private readonly consuming: ConsumerService;
  private readonly telemetry: TelemetryService;

  constructor(private readonly ctx: ServiceContext) {
    this.producing = new ProducerService(ctx, this.sessions);
    this.consuming = new ConsumerService(ctx, (clientId) => this.sessions.alive(clientId));
    this.telemetry = new TelemetryService(ctx, this.sessions, (clientId) =>
      this.producing.producerFor(clientId),
    );
  }

  /** The handler table passed to grpc.Server.addService. */
  handlers(): grpc.UntypedServiceImplementation {
    const unary =
      (fn: (call: Unary) => Promise<object>, method: string) =>
      (call: Unary, reply: Reply): void => {
        (call.request instanceof UndecodableRequest
          ? Promise.reject(undecodable(call.request))
          : this.authorized(call, method, call.request).then(() => fn(call))
        ).then(
          (res) => reply(null, res),
          (err: unknown) => reply(null, { status: statusOf(err) }),
        );
      };
    const p = this.producing;
    const c = this.consuming;
    return {
      QueryRoute: unary((call) => this.queryRoute(call), 'QueryRoute'),
      Heartbeat: unary((call) => this.heartbeat(call), 'Heartbeat'),
      SendMessage: unary((call) => p.sendMessage(call), 'SendMessage'),
      QueryAssignment: unary((call) => this.queryAssignment(call), 'QueryAssignment'),
      ReceiveMessage: (call: ReceiveCall) => {
        (call.request instanceof UndecodableRequest
          ? Promise.reject(undecodable(call.request))
          : this.authorized(call, 'ReceiveMessage', call.request)
        )
          .then(() => c.receiveMessage(call))
          .catch((err: unknown) => {
            if (!call.cancelled) call.write({ status: statusOf(err) });
            call.end();
          });
      },
      AckMessage: unary((call) => c.ackMessage(call), 'AckMessage'),
      ForwardMessageToDeadLetterQueue: unary(
        (call) => c.forwardMessageToDeadLetterQueue(call),
        'ForwardMessageToDeadLetterQueue',
      ),
      EndTransaction: unary((call) => p.endTransaction(call), 'EndTransaction'),
      Telemetry: (call: TelemetryCall) => this.telemetry.stream(call),
      NotifyClientTermination: unary((call) => this.notifyClientTermination(call), 'NotifyClientTermination'),
      ChangeInvisibleDuration: unary((call) => c.changeInvisibleDuration(call), 'ChangeInvisibleDuration'),
      RecallMessage: unary((call) => p.recallMessage(call), 'RecallMessage'),
    };
  }

  /**
   * A group's settings changed (tidemq admin configure-group): its connected clients get their
   * Settings again; returns how many streams were written to.
   */
  groupChanged(group: string): number {
    return this.telemetry.groupChanged(group);
  }

  /** Runs the authorize hook; a refusal rejects with the ProtocolError to answer. */
  private authorized(call: { metadata: grpc.Metadata }, method: string, request: unknown): Promise<void> {
    return new Promise((resolve) => {
      this.ctx.authorize?.(call, method, request);
      resolve();
    });
  }

  /** Server shutdown: end every Telemetry stream, answer parked long polls, stop renewing. */
  close(): void {
    this.sessions.endAll();
    this.consuming.close();
  }

  private async queryRoute(call: Unary): Promise<object> {
    const r = call.request;
    const ns = namespaceOf(call);
    const info = this.ctx.broker.resolveTopic(resourceName(r.topic, ns));
    const endpoints: Endpoints = r.endpoints?.addresses?.length ? r.endpoints : this.ctx.endpoints();
    return { status: OK, messageQueues: messageQueues(info, ns, endpoints) };
  }

  private async heartbeat(call: Unary): Promise<object> {
    const r = call.request;
    const group = r.group ? resourceName(r.group, namespaceOf(call)) : undefined;
    this.sessions.heartbeat(clientIdOf(call), r.clientType, group);
    return { status: OK };
  }

  /** One assignment per broker with queue id -1 ("every queue"), as the RocketMQ proxy does. */
  private async queryAssignment(call: Unary): Promise<object> {
    const r = call.request;
    const ns = namespaceOf(call);
    const info = this.ctx.broker.resolveTopic(resourceName(r.topic, ns));
    const endpoints: Endpoints = r.endpoints?.addresses?.length ? r.endpoints : this.ctx.endpoints();
    const [q] = messageQueues({ ...info, queues: 1 }, ns, endpoints) as Record<string, unknown>[];
    return { status: OK, assignments: [{ messageQueue: { ...q, id: -1 } }] };
  }

  /** The client shuts down: its producer closes, its leased messages are visible again at once. */
  private async notifyClientTermination(call: Unary): Promise<object> {
    const id = optionalClientId(call);
    if (id !== undefined) {
      await this.producing.closeClient(id);
      await this.consuming.releaseClient(id);
      this.sessions.terminate(id);
    }
    return { status: OK };
  }
}
