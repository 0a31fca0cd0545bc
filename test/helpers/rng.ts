/**
 * Seeded randomness for tests (STYLE.md §11): every randomized test takes its seed from
 * TIDEMQ_SEED or picks one, and prints it first, so a failure can be replayed exactly.
 */

/** mulberry32: a small, fast 32-bit PRNG; good enough to drive test cases, not for crypto. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  private readonly next: () => number;

  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  bool(pTrue = 0.5): boolean {
    return this.next() < pTrue;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick: empty list');
    return items[this.int(items.length)]!;
  }

  /** Bytes in [1, 255]: never zero, so zeroing a range of a record always changes it. */
  nonZeroBytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = 1 + this.int(255);
    return out;
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  /** A derived generator, so independent streams stay reproducible from one seed. */
  fork(salt: number): Rng {
    return new Rng((Math.imul(this.seed ^ 0x9e3779b9, 0x85ebca6b) + salt) >>> 0);
  }
}

/** The seed for a randomized test: TIDEMQ_SEED if set, else a fresh one. */
export function pickSeed(): number {
  const fromEnv = process.env.TIDEMQ_SEED;
  if (fromEnv !== undefined && fromEnv !== '') {
    const seed = Number(fromEnv);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new Error(`TIDEMQ_SEED must be an integer in [0, 2^32), got ${JSON.stringify(fromEnv)}`);
    }
    return seed;
  }
  return (Math.random() * 0x100000000) >>> 0;
}

interface Commenter {
  comment(...args: unknown[]): void;
}

/** Picks the seed and prints it as a TAP comment at the start of the test. */
export function seededRng(t: Commenter, what: string): Rng {
  const seed = pickSeed();
  t.comment(`${what}: seed ${seed} (replay with TIDEMQ_SEED=${seed})`);
  return new Rng(seed);
}

/** TIDEMQ_SOAK=1 runs the long versions of the randomized and crash suites. */
export const soak = process.env.TIDEMQ_SOAK === '1';
