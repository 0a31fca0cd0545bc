/**
 * Store configuration: options passed in code override TIDEMQ_* env vars, which override the
 * defaults. An invalid value is an INVALID_CONFIG error naming the option or variable — never a
 * silent default.
 */
import { StoreError } from './errors.js';
import type { FlushMode, StoreOptions } from './store/types.js';

export interface StoreConfig {
  flush: FlushMode;
  flushIntervalMs: number;
  flushLeastPages: number;
  flushThoroughIntervalMs: number;
  syncFlushTimeoutMs: number;
  segmentBytes: number;
  dispatchWorkers: number;
  maxMessageBytes: number;
  fileReservedHours: number;
  /** Hours of the day (local time) at which expired segments are deleted; undefined: any hour. */
  deleteWhen: readonly number[] | undefined;
  diskMaxUsedRatio: number;
  diskCleanForciblyRatio: number;
  diskWarningRatio: number;
  cleanIntervalMs: number;
  prefault: boolean;
  cqEntriesPerFile: number;
  indexHashSlots: number;
  indexMaxEntries: number;
}

/**
 * Defaults. segmentBytes: 128 MiB rather than RocketMQ's 1 GiB — a segment is the unit of
 * preallocation, pre-touch and retention; 128 MiB keeps a fresh store small on disk and makes
 * retention finer-grained, while rolling only every ~1.3 M records of 100 B, so the roll cost
 * (one fallocate + mmap, prepared ahead) is invisible in throughput. dispatchWorkers: 1 on a
 * 2-core machine — the main thread appends on one core, one worker builds indexes on the other.
 */
export const DEFAULTS: StoreConfig = {
  flush: 'async',
  flushIntervalMs: 500,
  flushLeastPages: 4,
  flushThoroughIntervalMs: 10_000,
  syncFlushTimeoutMs: 5_000,
  segmentBytes: 128 * 1024 * 1024,
  dispatchWorkers: 1,
  maxMessageBytes: 4 * 1024 * 1024,
  fileReservedHours: 72,
  deleteWhen: [4],
  diskMaxUsedRatio: 0.75,
  diskCleanForciblyRatio: 0.85,
  diskWarningRatio: 0.9,
  cleanIntervalMs: 10_000,
  prefault: true,
  cqEntriesPerFile: 300_000,
  indexHashSlots: 1_000_000,
  indexMaxEntries: 4_000_000,
};

type Kind = 'flushMode' | 'int' | 'ratio' | 'bool' | 'hours' | 'hourList';

interface Spec {
  key: keyof StoreConfig;
  env: string;
  kind: Kind;
  min?: number;
  max?: number;
  meaning: string;
}

export const CONFIG_SPECS: readonly Spec[] = [
  { key: 'flush', env: 'TIDEMQ_FLUSH', kind: 'flushMode', meaning: '`sync` or `async`' },
  {
    key: 'flushIntervalMs',
    env: 'TIDEMQ_FLUSH_INTERVAL_MS',
    kind: 'int',
    min: 1,
    max: 3_600_000,
    meaning: 'ms',
  },
  {
    key: 'flushLeastPages',
    env: 'TIDEMQ_FLUSH_LEAST_PAGES',
    kind: 'int',
    min: 0,
    max: 1 << 20,
    meaning: 'pages',
  },
  {
    key: 'flushThoroughIntervalMs',
    env: 'TIDEMQ_FLUSH_THOROUGH_INTERVAL_MS',
    kind: 'int',
    min: 1,
    max: 86_400_000,
    meaning: 'ms',
  },
  {
    key: 'syncFlushTimeoutMs',
    env: 'TIDEMQ_SYNC_FLUSH_TIMEOUT_MS',
    kind: 'int',
    min: 1,
    max: 3_600_000,
    meaning: 'ms',
  },
  {
    key: 'segmentBytes',
    env: 'TIDEMQ_SEGMENT_BYTES',
    kind: 'int',
    min: 4096,
    max: 2 ** 31 - 1,
    meaning: 'bytes',
  },
  {
    key: 'dispatchWorkers',
    env: 'TIDEMQ_DISPATCH_WORKERS',
    kind: 'int',
    min: 1,
    max: 64,
    meaning: 'threads',
  },
  {
    key: 'maxMessageBytes',
    env: 'TIDEMQ_MAX_MESSAGE_BYTES',
    kind: 'int',
    min: 1,
    max: 64 * 1024 * 1024,
    meaning: 'bytes',
  },
  {
    key: 'fileReservedHours',
    env: 'TIDEMQ_FILE_RESERVED_HOURS',
    kind: 'hours',
    min: 0,
    max: 87_600,
    meaning: 'hours',
  },
  {
    key: 'deleteWhen',
    env: 'TIDEMQ_DELETE_WHEN',
    kind: 'hourList',
    meaning:
      'hours of the day 0-23 separated by ";" (RocketMQ\'s deleteWhen, e.g. "04" or "3;4"), or "*" for any hour',
  },
  {
    key: 'diskMaxUsedRatio',
    env: 'TIDEMQ_DISK_MAX_USED_RATIO',
    kind: 'ratio',
    min: 0.1,
    max: 0.95,
    meaning: 'ratio',
  },
  {
    key: 'diskCleanForciblyRatio',
    env: 'TIDEMQ_DISK_CLEAN_FORCIBLY_RATIO',
    kind: 'ratio',
    min: 0.1,
    max: 0.99,
    meaning: 'ratio',
  },
  {
    key: 'diskWarningRatio',
    env: 'TIDEMQ_DISK_WARNING_RATIO',
    kind: 'ratio',
    min: 0.1,
    max: 0.999,
    meaning: 'ratio',
  },
  {
    key: 'cleanIntervalMs',
    env: 'TIDEMQ_CLEAN_INTERVAL_MS',
    kind: 'int',
    min: 10,
    max: 86_400_000,
    meaning: 'ms',
  },
  { key: 'prefault', env: 'TIDEMQ_PREFAULT', kind: 'bool', meaning: '`true` or `false`' },
  {
    key: 'cqEntriesPerFile',
    env: 'TIDEMQ_CQ_ENTRIES_PER_FILE',
    kind: 'int',
    min: 1024,
    max: 50_000_000,
    meaning: 'entries (20 B each)',
  },
  {
    key: 'indexHashSlots',
    env: 'TIDEMQ_INDEX_HASH_SLOTS',
    kind: 'int',
    min: 1024,
    max: 50_000_000,
    meaning: 'slots',
  },
  {
    key: 'indexMaxEntries',
    env: 'TIDEMQ_INDEX_MAX_ENTRIES',
    kind: 'int',
    min: 1024,
    max: 100_000_000,
    meaning: 'entries',
  },
];

function invalid(source: string, raw: unknown, spec: Spec): StoreError {
  const range = spec.min !== undefined ? ` between ${spec.min} and ${spec.max}` : '';
  return new StoreError(
    'INVALID_CONFIG',
    `${source} = ${JSON.stringify(raw)} is not valid: expected ${spec.meaning}${range}. Fix or unset it.`,
  );
}

function parse(spec: Spec, raw: unknown, source: string): StoreConfig[keyof StoreConfig] {
  switch (spec.kind) {
    case 'flushMode':
      if (raw === 'sync' || raw === 'async') return raw;
      throw invalid(source, raw, spec);
    case 'hourList':
      return parseHourList(raw, source, spec);
    case 'bool':
      if (raw === true || raw === 'true' || raw === '1') return true;
      if (raw === false || raw === 'false' || raw === '0') return false;
      throw invalid(source, raw, spec);
    default: {
      const n =
        typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      const integral = spec.kind === 'int';
      if (!Number.isFinite(n) || (integral && !Number.isInteger(n))) throw invalid(source, raw, spec);
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw invalid(source, raw, spec);
      }
      return n;
    }
  }
}

/**
 * deleteWhen: "04", "3;4" (RocketMQ's form; a trailing ";" is ignored, as Java's split does), a
 * number or an array of hours, or "*" (any hour: undefined).
 */
function parseHourList(raw: unknown, source: string, spec: Spec): readonly number[] | undefined {
  if (typeof raw === 'string' && raw.trim() === '*') return undefined;
  const parts =
    typeof raw === 'string'
      ? raw.replace(/;\s*$/, '').split(';')
      : typeof raw === 'number'
        ? [raw]
        : Array.isArray(raw)
          ? raw
          : undefined;
  if (parts === undefined || parts.length === 0) throw invalid(source, raw, spec);
  const hours = new Set<number>();
  for (const part of parts) {
    const text = typeof part === 'string' ? part.trim() : undefined;
    const hour =
      typeof part === 'number' ? part : text !== undefined && /^\d{1,2}$/.test(text) ? Number(text) : NaN;
    if (!Number.isInteger(hour) || hour < 0 || hour > 23) throw invalid(source, raw, spec);
    hours.add(hour);
  }
  return [...hours].sort((a, b) => a - b);
}

export function resolveConfig(options: StoreOptions = {}, env: NodeJS.ProcessEnv = process.env): StoreConfig {
  const config: Record<string, unknown> = { ...DEFAULTS };
  for (const spec of CONFIG_SPECS) {
    const fromEnv = env[spec.env];
    if (fromEnv !== undefined && fromEnv !== '') config[spec.key] = parse(spec, fromEnv, `env ${spec.env}`);
    const fromOptions = (options as Record<string, unknown>)[spec.key];
    if (fromOptions !== undefined) config[spec.key] = parse(spec, fromOptions, `option ${spec.key}`);
  }
  for (const key of Object.keys(options)) {
    if (key !== 'rebuild' && !CONFIG_SPECS.some((s) => s.key === key)) {
      throw new StoreError(
        'INVALID_CONFIG',
        `unknown option ${JSON.stringify(key)}: see StoreOptions in the README.`,
      );
    }
  }
  const c = config as unknown as StoreConfig;
  if (c.deleteWhen !== undefined && c.cleanIntervalMs > 3_600_000) {
    throw new StoreError(
      'INVALID_CONFIG',
      `cleanIntervalMs (${c.cleanIntervalMs}) is longer than an hour, so retention could miss the deleteWhen hours (${c.deleteWhen.join(';')}): shorten it, or set deleteWhen to "*".`,
    );
  }
  if (!(c.diskMaxUsedRatio <= c.diskCleanForciblyRatio && c.diskCleanForciblyRatio <= c.diskWarningRatio)) {
    throw new StoreError(
      'INVALID_CONFIG',
      `disk thresholds must rise: diskMaxUsedRatio (${c.diskMaxUsedRatio}) ≤ diskCleanForciblyRatio (${c.diskCleanForciblyRatio}) ≤ diskWarningRatio (${c.diskWarningRatio}).`,
    );
  }
  return c;
}
