/**
 * Operating errors: a stable `code` for programs, a message that says what to do for people.
 * Expected non-success outcomes are status values, and broken invariants are assertions.
 */

export type StoreErrorCode =
  | 'INVALID_TOPIC'
  | 'INVALID_MESSAGE'
  | 'MESSAGE_TOO_LARGE'
  | 'INVALID_CONFIG'
  | 'INVALID_OFFSET'
  | 'STORE_LOCKED'
  | 'STORE_CLOSED'
  | 'FLUSH_DISK_TIMEOUT'
  | 'STORE_READ_ONLY'
  | 'DISK_FULL'
  | 'CORRUPT_SEGMENT'
  | 'IO_ERROR';

export class StoreError extends Error {
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

/** Broken invariant: a bug in tidemq, not an operating condition. Stops the caller. */
export function assert(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(`tidemq invariant violated: ${what}`);
}

/** errno code of a native error, if any. */
export function errnoCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}
