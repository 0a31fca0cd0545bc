/** Small helpers over the MessageStore facade shared by the suites. */
import { type MessageStore, StoreError } from '../../src/index.js';
import type { StoredMessage } from '../../src/store/types.js';

/** The StoreError code of what fn throws or rejects with; 'NO_ERROR' if it succeeds, 'NOT_A_STORE_ERROR: …' otherwise. */
export async function errorCode(fn: () => unknown): Promise<string> {
  try {
    await fn();
    return 'NO_ERROR';
  } catch (err) {
    if (err instanceof StoreError) return err.code;
    return `NOT_A_STORE_ERROR: ${String(err)}`;
  }
}

/** Same for a synchronous call. */
export function errorCodeSync(fn: () => unknown): string {
  try {
    fn();
    return 'NO_ERROR';
  } catch (err) {
    if (err instanceof StoreError) return err.code;
    return `NOT_A_STORE_ERROR: ${String(err)}`;
  }
}

/** The thrown error itself (for message checks). */
export async function caught(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

export function scanAll(store: MessageStore, from?: number): StoredMessage[] {
  return [...store.scan(from)];
}
