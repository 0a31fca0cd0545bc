/**
 * PushConsumer: a receive loop feeding a message listener with at most consumptionThreadCount
 * calls in flight. SUCCESS acks. FAILURE (or a throw) makes the message invisible for the
 * group's backoff of that retry (RocketMQ's ladder 10 s, 30 s, 1 m … 2 h unless configured),
 * after which it is redelivered with deliveryAttempt + 1; once a message has had the group's
 * maxDeliveryAttempts deliveries, the broker moves it to %DLQ%<group> instead of redelivering.
 * FIFO groups keep order because the broker hands out at most one message per message group
 * until it is acked. A listener still running when two thirds of the invisible duration have
 * passed gets its message's invisibility renewed, as often as needed.
 */

import type { SubscriberSpec } from './delivery-service.js';
import { BrokerError } from './errors.js';
import { buildSpec, type ConsumerHost } from './simple-consumer.js';
import { ConsumeResult, type MessageView, type PushConsumerOptions } from './types.js';

export class PushConsumer {
  readonly spec: SubscriberSpec;
  private readonly listener: (m: MessageView) => ConsumeResult | Promise<ConsumeResult>;
  private readonly threads: number;
  private readonly batch: number;
  private readonly invisibleMs: number;
  private readonly longPollMs: number;
  private inFlight = 0;
  private slotFreed: (() => void) | undefined;
  private closed = false;
  private readonly loop: Promise<void>;
  private readonly tasks = new Set<Promise<void>>();
  /** Invisibility renewals made for slow listeners (see renewWhileConsuming). */
  renewals = 0;
  /** Listener errors and failed acks, for inspection (the loop keeps going). */
  readonly errors: unknown[] = [];

  constructor(
    private readonly host: ConsumerHost,
    options: PushConsumerOptions,
  ) {
    this.spec = buildSpec(host, options);
    const l = options.messageListener;
    if (typeof l === 'function') this.listener = l;
    else if (l && typeof l.consume === 'function') this.listener = (m) => l.consume(m);
    else
      throw new BrokerError(
        'BAD_REQUEST',
        'messageListener must be a function or have consume(messageView).',
      );
    this.threads = positive(options.consumptionThreadCount ?? 20, 'consumptionThreadCount');
    this.batch = positive(options.receiveBatchSize ?? 32, 'receiveBatchSize');
    this.invisibleMs = positive(options.invisibleDurationMs ?? 60_000, 'invisibleDurationMs');
    this.longPollMs = positive(options.longPollingTimeout ?? 20_000, 'longPollingTimeout');
    this.loop = this.run();
  }

  get consumerGroup(): string {
    return this.spec.group;
  }

  /** Nack delay after the `attempt`-th delivery failed. */
  backoffFor(attempt: number): number {
    const ladder = this.spec.retryBackoffMs;
    return ladder[Math.min(attempt - 1, ladder.length - 1)]!;
  }

  private async run(): Promise<void> {
    const delivery = this.host.delivery;
    while (!this.closed && !this.host.core.closing) {
      if (this.inFlight >= this.threads) {
        await new Promise<void>((resolve) => {
          this.slotFreed = resolve;
        });
        continue;
      }
      let views: MessageView[];
      try {
        const n = Math.min(this.batch, this.threads - this.inFlight);
        views = await delivery.receive(this.spec, n, this.invisibleMs, this.longPollMs, () => this.closed);
      } catch (err) {
        if (this.closed || this.host.core.closing) return;
        this.errors.push(err);
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      for (const v of views) {
        this.inFlight++;
        const task = this.consumeOne(v).finally(() => {
          this.inFlight--;
          this.tasks.delete(task);
          const f = this.slotFreed;
          this.slotFreed = undefined;
          f?.();
        });
        this.tasks.add(task);
      }
    }
  }

  private async consumeOne(view: MessageView): Promise<void> {
    let result: ConsumeResult;
    const renewal = this.renewWhileConsuming(view);
    try {
      result = await this.listener(view);
    } catch (err) {
      this.errors.push(err);
      result = ConsumeResult.FAILURE;
    } finally {
      await renewal.stop();
    }
    if (this.host.core.closing) return;
    try {
      if (result === ConsumeResult.SUCCESS) await this.host.delivery.ack(this.spec, view.receiptHandle);
      else {
        const delay =
          view.deliveryAttempt >= this.spec.maxDeliveryAttempts ? 0 : this.backoffFor(view.deliveryAttempt);
        await this.host.delivery.changeInvisibleDuration(this.spec, view.receiptHandle, delay);
      }
    } catch (err) {
      this.errors.push(err);
    }
  }

  /**
   * Keep a message invisible while its listener runs: every two thirds of the invisible
   * duration, changeInvisibleDuration renews it (and view.receiptHandle follows), so a listener
   * slower than the invisible duration does not see its message redelivered to someone else.
   * stop() ends the renewals and waits for one in flight, so the ack uses the current handle.
   */
  private renewWhileConsuming(view: MessageView): { stop(): Promise<void> } {
    const everyMs = Math.max(1, Math.floor((this.invisibleMs * 2) / 3));
    let inFlight: Promise<void> | undefined;
    let stopped = false;
    const timer = setInterval(() => {
      if (inFlight || stopped || this.host.core.closing) return;
      inFlight = this.host.delivery
        .changeInvisibleDuration(this.spec, view.receiptHandle, this.invisibleMs)
        .then(
          (handle) => {
            view.receiptHandle = handle;
            this.renewals++;
          },
          (err: unknown) => {
            this.errors.push(err);
          },
        )
        .finally(() => {
          inFlight = undefined;
        });
    }, everyMs);
    return {
      stop: async () => {
        stopped = true;
        clearInterval(timer);
        await inFlight;
      },
    };
  }

  /** Stop receiving and wait for listener calls in flight. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.host.delivery.wake(this.spec.key);
    const f = this.slotFreed;
    this.slotFreed = undefined;
    f?.();
    await this.loop;
    await Promise.allSettled([...this.tasks]);
    this.host.consumerClosed(this);
  }

  shutdown(): Promise<void> {
    return this.close();
  }
}

function positive(n: number, name: string): number {
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) {
    throw new BrokerError('BAD_REQUEST', `${name} must be a positive number, got ${String(n)}.`);
  }
  return n;
}
