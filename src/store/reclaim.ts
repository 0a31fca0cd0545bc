/**
 * Reclaiming the disk space of deleted segments. A deleted segment's blocks go back to the file
 * system only when its last mapping is unmapped, and mappings are unmapped by finalizers (never
 * while a view of them is alive). When space is short, retention asks V8 for a full collection
 * right away instead of waiting for one, so that segments nobody reads any more are released now.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | undefined;

/** Run a full garbage collection (finalizers of unreferenced mappings run after it). */
export function collectGarbage(): void {
  if (!collect) {
    const existing = (globalThis as { gc?: () => void }).gc;
    if (existing) collect = existing;
    else {
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    }
  }
  // Two passes: the first may only promote or mark what the second frees.
  collect();
  collect();
}
