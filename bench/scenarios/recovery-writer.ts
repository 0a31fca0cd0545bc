/**
 * Child of the recovery scenario: appends `writtenBytes` of records in async flush mode with the
 * periodic flusher effectively off (so nothing past the first checkpoint is flushed), waits until
 * its records are sealed, reports its positions over IPC, then waits to be SIGKILLed.
 *
 * argv: <dataDir> <writtenBytes> <bodyBytes>
 */
import { benchTopic, makeBody, openStore } from '../store-api.js';

async function main(): Promise<void> {
  const [dir, writtenArg, bodyArg] = process.argv.slice(2);
  const store = await openStore(dir!);
  const target = Number(writtenArg);
  const msg = { topic: benchTopic, body: makeBody(Number(bodyArg)) };
  const start = store.stats().wrotePosition;
  let appended = 0;
  while (store.stats().wrotePosition - start < target) {
    for (let i = 0; i < 4096; i++) store.append(msg);
    appended += 4096;
  }
  // In async mode put() resolves once every record before it is sealed (body CRC stored) in the
  // page cache — what survives a process crash — without flushing to disk.
  await store.put(msg);
  appended++;
  const stats = store.stats();
  process.send?.({
    type: 'written',
    wrotePosition: stats.wrotePosition,
    flushedPosition: stats.flushedPosition,
    appended,
  });
  // Stay alive, holding the store open, until the parent kills this process.
  setInterval(() => {}, 60_000);
}

main().catch((err: unknown) => {
  process.send?.({ type: 'error', message: String((err as Error)?.stack ?? err) });
  process.exitCode = 1;
});
