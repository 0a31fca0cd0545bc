// Shared by the broker tests: temporary store directories, small store segments, a seed.
import { Broker } from '../../src/broker/broker.js';
import type { BrokerOptions } from '../../src/broker/types.js';

import { seededRandom, testSeed } from './native-env.js';

export { tempDir } from './native-env.js';

export const SMALL_STORE = { segmentBytes: 4 * 1024 * 1024, prefault: false } as const;

export async function openBroker(dir: string, options: BrokerOptions = {}): Promise<Broker> {
  return Broker.open(dir, { ...options, store: { ...SMALL_STORE, ...(options.store ?? {}) } });
}

/** A seed from TIDEMQ_SEED or the clock; printed so a failure can be replayed. */
export function seedFrom(t: { comment(...a: unknown[]): void }): number {
  const seed = testSeed();
  t.comment(`seed=${seed} (set TIDEMQ_SEED to replay)`);
  return seed;
}

export const rng = seededRandom;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
