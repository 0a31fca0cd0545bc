/**
 * The producer side of MessagingService: SendMessage, EndTransaction, RecallMessage. Each client
 * id gets one broker Producer (cached, bounded); its transaction checker sends check-backs to the
 * client through its Telemetry stream (recover_orphaned_transaction_command), or to another live
 * producer of the topic.
 */
import type { Producer } from '../broker/producer.js';
import { type SendReceipt, type TransactionChecker, TransactionResolution } from '../broker/types.js';
import { clientIdOf, MAX_BATCH_ENTRIES, remember, type Unary } from './calls.js';
import {
  MessageTypeV2,
  namespaceOf,
  resourceName,
  toSendMessage,
  toWireMessage,
  type WireMessage,
} from './convert.js';
import type { ServiceContext } from './messaging-service.js';
import type { ClientSessions } from './sessions.js';
import { Code, OK, ProtocolError, type Status, status, statusOf } from './status.js';
import { recoverCommand } from './telemetry.js';

export class ProducerService {
  private readonly producers = new Map<string, Producer>();

  constructor(
    private readonly ctx: ServiceContext,
    private readonly sessions: ClientSessions,
  ) {}

  /**
   * One message: sent on its own (it may be transactional). Several: one all-or-nothing batch
   * (RocketMQ stores a batch as a whole or not at all) — every message is validated first, one
   * bad message fails the request with its status on every entry and nothing is stored;
   * transactional messages must come one per request.
   */
  async sendMessage(call: Unary): Promise<object> {
    const clientId = clientIdOf(call);
    const messages: WireMessage[] = call.request.messages ?? [];
    if (messages.length === 0) return { status: status(Code.BAD_REQUEST, 'no messages to send.') };
    const tooLarge = checkSendBatch(messages, this.ctx.broker.settings.maxBodyBytes);
    if (tooLarge) return { status: tooLarge };
    const producer = this.producerFor(clientId);
    const ns = namespaceOf(call);
    if (messages.length > 1) return this.sendAll(producer, messages, ns);
    const m = messages[0]!;
    try {
      checkMessageId(m, 0);
      const tx = m.systemProperties!.messageType === MessageTypeV2.TRANSACTION;
      const transaction = tx ? producer.beginTransaction() : undefined;
      const message = toSendMessage(m, ns);
      const receipt = await producer.send(message, transaction);
      this.ctx.metrics?.sent(message.topic, 1, m.body?.length ?? 0);
      return { status: OK, entries: [entryOf(receipt)] };
    } catch (err) {
      const st = statusOf(err);
      return { status: st, entries: [{ status: st, messageId: m.systemProperties?.messageId ?? '' }] };
    }
  }

  private async sendAll(producer: Producer, messages: WireMessage[], ns: string): Promise<object> {
    try {
      const batch = messages.map((m, i) => {
        checkMessageId(m, i);
        if (m.systemProperties!.messageType === MessageTypeV2.TRANSACTION) {
          throw new ProtocolError(
            Code.BAD_REQUEST,
            `message ${i} is transactional: send each transactional message in a request of its own.`,
          );
        }
        return toSendMessage(m, ns);
      });
      const receipts = await producer.sendBatch(batch);
      const metrics = this.ctx.metrics;
      if (metrics)
        for (let i = 0; i < batch.length; i++) metrics.sent(batch[i]!.topic, 1, batch[i]!.body.length);
      return { status: OK, entries: receipts.map(entryOf) };
    } catch (err) {
      const st = statusOf(err);
      return {
        status: st,
        entries: messages.map((m) => ({ status: st, messageId: m.systemProperties?.messageId ?? '' })),
      };
    }
  }

  /** COMMIT or ROLLBACK, from the producer (source CLIENT) or its checker (source SERVER_CHECK). */
  async endTransaction(call: Unary): Promise<object> {
    const r = call.request;
    const id: string = r.transactionId ?? '';
    if (id.trim() === '') return { status: status(Code.INVALID_TRANSACTION_ID, 'transaction_id is blank.') };
    const resolution = r.resolution === 1 ? 'commit' : r.resolution === 2 ? 'rollback' : undefined;
    if (!resolution) return { status: status(Code.BAD_REQUEST, 'resolution must be COMMIT or ROLLBACK.') };
    const topic = resourceName(r.topic, namespaceOf(call));
    await this.producerFor(clientIdOf(call)).endTransaction(id, resolution, topic === '' ? undefined : topic);
    return { status: OK };
  }

  async recallMessage(call: Unary): Promise<object> {
    const r = call.request;
    const receipt = await this.producerFor(clientIdOf(call)).recall(
      resourceName(r.topic, namespaceOf(call)),
      r.recallHandle ?? '',
    );
    return { status: OK, messageId: receipt.messageId };
  }

  /** The broker producer of a client; its checker forwards check-backs to the client. */
  producerFor(clientId: string): Producer {
    let p = this.producers.get(clientId);
    if (!p || p.isClosed) {
      p = this.ctx.broker.producer({ clientId, checker: this.checkerFor(clientId) });
      const evicted = remember(this.producers, clientId, p);
      evicted?.close().catch(() => {});
    }
    return p;
  }

  /** The client shuts down: its producer closes. */
  async closeClient(clientId: string): Promise<void> {
    const p = this.producers.get(clientId);
    this.producers.delete(clientId);
    await p?.close();
  }

  /**
   * Check-back through Telemetry: the half message goes to the client that sent it, or to
   * another live producer of the topic, as recover_orphaned_transaction_command. The answer
   * arrives later as EndTransaction; until then (or if no producer is connected) the broker
   * counts the check as unresolved and checks again, then rolls back after its last check.
   */
  private checkerFor(clientId: string): TransactionChecker {
    return {
      check: (view, transactionId) => {
        // The broker asks the sender's producer first, or falls back to another one: a client
        // that declared other topics gets the check only if no live producer declared this one.
        const topics = this.sessions.get(clientId)?.topics ?? [];
        const ownStream = this.sessions.streamOf(clientId);
        const call =
          (topics.length === 0 || topics.includes(view.topic) ? ownStream : undefined) ??
          this.sessions.producerStreamFor(view.topic, clientId) ??
          ownStream;
        if (!call) return TransactionResolution.UNKNOWN;
        const message = toWireMessage(view, namespaceOf(call), 0, MessageTypeV2.TRANSACTION);
        call.write(recoverCommand(transactionId, message));
        return TransactionResolution.UNKNOWN;
      },
    };
  }
}

function checkMessageId(m: WireMessage, i: number): void {
  if (!m.systemProperties?.messageId?.trim()) {
    throw new ProtocolError(Code.ILLEGAL_MESSAGE_ID, `message ${i}: system_properties.message_id is blank.`);
  }
}

function entryOf(receipt: SendReceipt): object {
  return {
    status: OK,
    messageId: receipt.messageId,
    transactionId: receipt.transactionId,
    offset: receipt.offset,
    recallHandle: receipt.recallHandle,
  };
}

/**
 * Limits of one SendMessage beyond the per-message ones the broker checks: at most
 * MAX_BATCH_ENTRIES messages, and several messages together no larger than one message may be
 * (as RocketMQ limits a batch). Checked before anything is written.
 */
function checkSendBatch(messages: WireMessage[], maxBodyBytes: number): Status | undefined {
  if (messages.length > MAX_BATCH_ENTRIES) {
    return status(
      Code.PAYLOAD_TOO_LARGE,
      `${messages.length} messages in one request; send at most ${MAX_BATCH_ENTRIES} per request.`,
    );
  }
  if (messages.length === 1) return undefined;
  let total = 0;
  for (const m of messages) total += m.body?.length ?? 0;
  if (total > maxBodyBytes) {
    return status(
      Code.PAYLOAD_TOO_LARGE,
      `the ${messages.length} bodies take ${total} bytes together; a request may carry at most ${maxBodyBytes}.`,
    );
  }
  return undefined;
}
