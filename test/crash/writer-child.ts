/**
 * Child process for the torn-tail suite: puts sampleMessage(seed, i) for i = 0, 1, … until at
 * least `count` records are written and the last segment holds at least `minInLastSegment`
 * records with `minFreeInLastSegment` bytes still free, prints `rec <i> <physicalOffset> <size>`
 * for each, then ends as told:
 *   kill        SIGKILL itself without flushing (abort marker left, checkpoint behind the data)
 *   flush-kill  flush, then SIGKILL itself
 *   close       close the store cleanly
 *
 * argv[2]: JSON { dir, segmentBytes, count, seed, minInLastSegment, minFreeInLastSegment, end }
 */
import { MessageStore } from '../../src/index.js';
import { writeLineSync } from '../helpers/child.js';
import { sampleMessage } from '../helpers/messages.js';

interface WriterConfig {
  dir: string;
  segmentBytes: number;
  count: number;
  seed: number;
  minInLastSegment: number;
  minFreeInLastSegment: number;
  end: 'kill' | 'flush-kill' | 'close';
}

const config = JSON.parse(process.argv[2]!) as WriterConfig;
const store = await MessageStore.open(config.dir, {
  flush: 'async',
  segmentBytes: config.segmentBytes,
  // Keep the background flusher out of the way: what reaches the disk is decided by `end`.
  flushIntervalMs: 600_000,
  flushThoroughIntervalMs: 600_000,
});

let inSegment = 0;
let segmentStart = -1;
for (let i = 0; ; i++) {
  // put() in async mode resolves once the record is sealed (complete with its CRC in the page
  // cache), so it survives the SIGKILL below; the checkpoint stays behind (nothing is flushed).
  const r = await store.put(sampleMessage(config.seed, i));
  writeLineSync(`rec ${i} ${r.physicalOffset} ${r.size}`);
  const start = r.physicalOffset - (r.physicalOffset % config.segmentBytes);
  if (start !== segmentStart) {
    segmentStart = start;
    inSegment = 0;
  }
  inSegment++;
  const free = segmentStart + config.segmentBytes - (r.physicalOffset + r.size);
  if (i + 1 >= config.count && inSegment >= config.minInLastSegment && free >= config.minFreeInLastSegment)
    break;
}

if (config.end === 'close') {
  await store.close();
  writeLineSync('closed');
} else {
  if (config.end === 'flush-kill') await store.flush();
  process.kill(process.pid, 'SIGKILL');
}
