/**
 * Leases: messages delivered to a receive with `auto_renew` (push consumers, which send no
 * invisible duration). Each is invisible for `leaseMs` and renewed under the same receipt handle
 * while its client is alive (a Telemetry stream open or a recent heartbeat), `renewAheadMs`
 * before it would expire, for at most `maxLeaseMs` in all (RocketMQ renews 10 s ahead, every 5 s,
 * for up to 3 h). Ack, nack (ChangeInvisibleDuration) and dead-lettering end a lease; a client
 * that terminates hands its leases back (the server makes them visible at once); one that goes
 * silent lets them lapse, and the broker delivers the messages again.
 */
import type { SimpleConsumer } from '../broker/simple-consumer.js';

/** RocketMQ's longest auto-renewal. */
const MAX_LEASE_MS = 3 * 3600 * 1000;

interface Lease {
  clientId: string;
  consumer: SimpleConsumer;
  handle: string;
  expiresAtMs: number;
  startedAtMs: number;
  renewing: boolean;
}

export interface LeaseOptions {
  /** Invisible time of a leased delivery, and of each renewal. */
  leaseMs: number;
  alive(clientId: string): boolean;
}

export class Leases {
  private readonly byHandle = new Map<string, Lease>();
  private readonly timer: NodeJS.Timeout;
  private readonly renewAheadMs: number;

  constructor(private readonly options: LeaseOptions) {
    this.renewAheadMs = Math.min(10_000, options.leaseMs / 2);
    this.timer = setInterval(() => this.renewDue(), Math.max(50, Math.min(5000, options.leaseMs / 4)));
    this.timer.unref();
  }

  get leaseMs(): number {
    return this.options.leaseMs;
  }

  add(clientId: string, consumer: SimpleConsumer, handle: string): void {
    const now = Date.now();
    this.byHandle.set(handle, {
      clientId,
      consumer,
      handle,
      expiresAtMs: now + this.options.leaseMs,
      startedAtMs: now,
      renewing: false,
    });
  }

  /** The handle was acked, nacked or dead-lettered. */
  end(handle: string): void {
    this.byHandle.delete(handle);
  }

  /** Forget a client's leases and return them (the caller releases the messages). */
  takeClient(clientId: string): { consumer: SimpleConsumer; handle: string }[] {
    const out: { consumer: SimpleConsumer; handle: string }[] = [];
    for (const lease of this.byHandle.values()) {
      if (lease.clientId !== clientId) continue;
      this.byHandle.delete(lease.handle);
      out.push({ consumer: lease.consumer, handle: lease.handle });
    }
    return out;
  }

  stop(): void {
    clearInterval(this.timer);
    this.byHandle.clear();
  }

  private renewDue(): void {
    const now = Date.now();
    for (const lease of this.byHandle.values()) {
      if (lease.renewing || lease.expiresAtMs - now > this.renewAheadMs) continue;
      if (
        lease.expiresAtMs <= now ||
        now - lease.startedAtMs >= MAX_LEASE_MS ||
        !this.options.alive(lease.clientId)
      ) {
        this.byHandle.delete(lease.handle);
        continue;
      }
      lease.renewing = true;
      lease.consumer.renew({ receiptHandle: lease.handle }, this.options.leaseMs).then(
        () => {
          lease.renewing = false;
          lease.expiresAtMs = now + this.options.leaseMs;
        },
        // Acked, nacked or redelivered meanwhile, or the broker is closing: nothing to renew.
        () => this.byHandle.delete(lease.handle),
      );
    }
  }
}
