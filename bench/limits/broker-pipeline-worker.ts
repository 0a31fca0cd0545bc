/**
 * The dispatch side of the broker pipeline limit (broker-pipeline.ts), in a worker thread: waits
 * for the main thread to publish how many records it wrote (polling every millisecond, as the
 * dispatch worker does while busy), walks each new record (mapping each fresh file as it reaches
 * it), writes a 20-byte entry for it (physical offset, size, tag code: a consume queue entry), and
 * publishes how many it dispatched, waking the consumer.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { native } from '../../src/native.js';
import {
  CTL_DISPATCHED_SEQ,
  CTL_STOP,
  CTL_WRITTEN_SEQ,
  DISPATCHED,
  ENTRY_BYTES,
  type PipelineShared,
  segmentPath,
  WRITTEN,
} from './broker-pipeline.js';

const shared = workerData as PipelineShared;
const ctl = new Int32Array(shared.control);
const counts = new Int32Array(shared.counts);
const entries = native.mapFile(shared.entriesPath, 0, 0);
const entryView = new DataView(entries);
const { recordBytes, ringRecords, segmentRecords } = shared;
const fresh = shared.pages === 'fresh';
/** The records' mapping in use: the ring, or the segment `segment` (fresh: mapped as reached). */
let segment = 0;
let logView = new DataView(native.mapFile(fresh ? segmentPath(shared.logPath, 0) : shared.logPath, 0, 0));
parentPort!.postMessage('ready');

let dispatched = 0;
let badRecords = 0;
while (Atomics.load(ctl, CTL_STOP) === 0) {
  const seq = Atomics.load(ctl, CTL_WRITTEN_SEQ);
  const written = Atomics.load(counts, WRITTEN);
  if (written > dispatched) {
    for (; dispatched < written; dispatched++) {
      const slot = dispatched % ringRecords;
      let at = slot * recordBytes;
      if (fresh) {
        const n = Math.floor(dispatched / segmentRecords);
        if (n !== segment) {
          native.releaseMapping(logView.buffer as ArrayBuffer);
          logView = new DataView(native.mapFile(segmentPath(shared.logPath, n), 0, 0));
          segment = n;
        }
        at = (dispatched - n * segmentRecords) * recordBytes;
      }
      const size = logView.getInt32(at, false);
      if (size !== recordBytes) badRecords++;
      const e = slot * ENTRY_BYTES;
      entryView.setFloat64(e, at, false);
      entryView.setInt32(e + 8, size, false);
      entryView.setFloat64(e + 12, 0, false);
    }
    Atomics.store(counts, DISPATCHED, dispatched);
    Atomics.add(ctl, CTL_DISPATCHED_SEQ, 1);
    Atomics.notify(ctl, CTL_DISPATCHED_SEQ);
    continue;
  }
  Atomics.wait(ctl, CTL_WRITTEN_SEQ, seq, 1);
}
parentPort!.postMessage({ badRecords });
