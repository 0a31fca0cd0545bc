/**
 * Child process of the disk-full suite: opens the store at argv[2] with 1 MiB segments and puts
 * 8 KiB messages until the store refuses one. Prints `ok <i> <physicalOffset>` per resolved put,
 * then `refused <code> <wroteBefore> <wroteAfter> <diskFull>`, flushes, closes and prints
 * `closed`. Dying by a signal (SIGBUS from a write into an unbacked page) is what the parent
 * checks never happens.
 */
import { MessageStore, StoreError } from '../../src/index.js';
import { writeLineSync } from '../helpers/child.js';
import { diskFullBody } from '../helpers/messages.js';

const store = await MessageStore.open(process.argv[2]!, { segmentBytes: 1024 * 1024, flush: 'async' });
for (let i = 0; i < 10_000; i++) {
  const wroteBefore = store.stats().wrotePosition;
  try {
    const r = await store.put({ topic: 'disk-full', body: diskFullBody(i) });
    writeLineSync(`ok ${i} ${r.physicalOffset}`);
  } catch (err) {
    const code = err instanceof StoreError ? err.code : `UNEXPECTED:${String(err)}`;
    const s = store.stats();
    writeLineSync(`refused ${code} ${wroteBefore} ${s.wrotePosition} ${s.diskFull}`);
    break;
  }
}
await store.flush();
await store.close();
writeLineSync('closed');
