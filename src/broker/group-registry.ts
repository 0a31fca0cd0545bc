/**
 * GroupRegistry: persisted consumer-group settings (RocketMQ keeps them per group in
 * subscriptionGroup.json: retryMaxTimes, consumeMessageOrderly, the retry policy).
 *
 * A setting is resolved, for each use, as: the consumer's own option, else the group's
 * configured value, else the broker's groupDefaults. Consumers resolve through their
 * SubscriberSpec each time, so configuring a group changes running consumers too.
 *
 * Durability: broker.configureGroup journals `{ op: 'group', g, c }` (c = the whole new
 * configuration, or null to forget it) and the snapshot carries the table (journal.ts).
 */
import type { BrokerSettings } from './core.js';
import { BrokerError } from './errors.js';
import type { ConsumerGroupOptions } from './types.js';

/** What may be configured per group; absent fields fall back to the broker's groupDefaults. */
export type GroupConfig = ConsumerGroupOptions;

/** A group's effective settings, as groups() reports them. */
export interface GroupInfo {
  name: string;
  /** Whether configureGroup set anything for it (else it is only known from consumers). */
  configured: boolean;
  maxDeliveryAttempts: number;
  retryBackoffMs: number[];
  /** undefined: FIFO exactly on FIFO topics. */
  fifo: boolean | undefined;
}

export type EffectiveGroupSettings = Omit<GroupInfo, 'name' | 'configured'>;

const KEYS: ReadonlySet<string> = new Set(['maxDeliveryAttempts', 'retryBackoffMs', 'fifo']);

/** Validate group options (configureGroup, consumer options); returns a clean copy. */
export function checkGroupConfig(options: unknown, what = 'group settings'): GroupConfig {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new BrokerError('BAD_REQUEST', `${what} must be an object.`);
  }
  const o = options as Record<string, unknown>;
  const out: GroupConfig = {};
  const m = o.maxDeliveryAttempts;
  if (m !== undefined) {
    if (typeof m !== 'number' || !Number.isInteger(m) || m < 1) {
      throw new BrokerError(
        'BAD_REQUEST',
        `maxDeliveryAttempts must be a positive integer, got ${String(m)}.`,
      );
    }
    out.maxDeliveryAttempts = m;
  }
  const r = o.retryBackoffMs;
  if (r !== undefined) {
    if (
      !Array.isArray(r) ||
      r.length === 0 ||
      r.some((b) => typeof b !== 'number' || !Number.isFinite(b) || b < 0)
    ) {
      throw new BrokerError('BAD_REQUEST', 'retryBackoffMs must be a non-empty list of non-negative ms.');
    }
    out.retryBackoffMs = [...(r as number[])];
  }
  const f = o.fifo;
  if (f !== undefined) {
    if (typeof f !== 'boolean')
      throw new BrokerError('BAD_REQUEST', `fifo must be a boolean, got ${String(f)}.`);
    out.fifo = f;
  }
  return out;
}

export class GroupRegistry {
  private readonly configs = new Map<string, GroupConfig>();

  constructor(private readonly defaults: BrokerSettings['groupDefaults']) {}

  /** The effective settings of a group (configured values over the broker's defaults). */
  settings(group: string): EffectiveGroupSettings {
    return {
      maxDeliveryAttempts: this.setting(group, 'maxDeliveryAttempts'),
      retryBackoffMs: this.setting(group, 'retryBackoffMs'),
      fifo: this.setting(group, 'fifo'),
    };
  }

  /** One effective setting, with no object built: consumers read these on every receive pass. */
  setting<K extends keyof EffectiveGroupSettings>(group: string, key: K): EffectiveGroupSettings[K] {
    return (this.configs.get(group)?.[key] ?? this.defaults[key]) as EffectiveGroupSettings[K];
  }

  config(group: string): GroupConfig | undefined {
    return this.configs.get(group);
  }

  configured(): string[] {
    return [...this.configs.keys()];
  }

  /** Apply a journaled change (run time and replay). */
  apply(group: string, config: GroupConfig | null): void {
    if (config === null) this.configs.delete(group);
    else this.configs.set(group, config);
  }

  snapshot(): Record<string, GroupConfig> {
    return Object.fromEntries(this.configs);
  }

  restore(table: Record<string, GroupConfig> | undefined): void {
    this.configs.clear();
    for (const [g, c] of Object.entries(table ?? {})) this.configs.set(g, c);
  }

  /** Reject unknown setting names (a typo in a config file should not pass silently). */
  static checkKeys(options: object): void {
    for (const k of Object.keys(options)) {
      if (!KEYS.has(k)) {
        throw new BrokerError(
          'BAD_REQUEST',
          `unknown group setting ${JSON.stringify(k)}: use maxDeliveryAttempts, retryBackoffMs or fifo.`,
        );
      }
    }
  }
}
