/**
 * Child process of the SIGKILL crash test: opens the store, runs `concurrency` put() loops
 * (sync mode) or pipelined put() batches in seq order (async mode), and prints `ok <seq> <physicalOffset>
 * <queueId> <queueOffset>` for each put that resolved, with a synchronous write, before doing
 * anything else. The parent kills it with SIGKILL at a moment of its choosing.
 *
 * argv[2]: JSON { dir, mode: 'sync'|'async', segmentBytes, concurrency, round, maxFillerBytes, maxPuts }
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { MessageStore, StoreError } from '../../src/index.js';
import type { AppendResult } from '../../src/store/types.js';
import { writeLineSync } from '../helpers/child.js';
import { crashMessage } from '../helpers/messages.js';

interface PutterConfig {
  dir: string;
  mode: 'sync' | 'async';
  segmentBytes: number;
  concurrency: number;
  round: number;
  maxFillerBytes: number;
  maxPuts: number;
}

const config = JSON.parse(process.argv[2]!) as PutterConfig;

function report(seq: number, r: AppendResult): void {
  writeLineSync(`ok ${seq} ${r.physicalOffset} ${r.queueId} ${r.queueOffset}`);
}

function fail(err: unknown): never {
  const code = err instanceof StoreError ? err.code : 'UNEXPECTED';
  writeLineSync(`error ${code} ${String(err).replaceAll('\n', ' ')}`);
  process.exit(1);
}

try {
  const store = await MessageStore.open(config.dir, {
    flush: config.mode,
    segmentBytes: config.segmentBytes,
    // A slow disk must not turn into a test failure here; the parent only kills.
    syncFlushTimeoutMs: 60_000,
  });
  writeLineSync('ready');
  let next = 0;
  if (config.mode === 'sync') {
    const loop = async (): Promise<void> => {
      while (next < config.maxPuts) {
        const seq = next++;
        report(seq, await store.put(crashMessage(config.round, seq, config.maxFillerBytes)));
      }
    };
    await Promise.all(Array.from({ length: config.concurrency }, loop));
  } else {
    // Pipelined async puts: appended in seq order, each reported once it resolves (sealed: its
    // record is complete in the page cache, which a process crash does not lose).
    while (next < config.maxPuts) {
      const batch: Promise<void>[] = [];
      for (let i = 0; i < 32 && next < config.maxPuts; i++) {
        const seq = next++;
        batch.push(
          store.put(crashMessage(config.round, seq, config.maxFillerBytes)).then((r) => report(seq, r)),
        );
      }
      await Promise.all(batch);
      await yieldToLoop();
    }
  }
  writeLineSync('done');
  // Stay alive, holding the store open, until the parent kills us.
  setInterval(() => {}, 1_000);
} catch (err) {
  fail(err);
}
