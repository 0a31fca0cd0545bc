/** tidemq: append() into the mapped commit log, single messages or batches; flush policy from env. */
import { batchSize } from '../catalog.js';
import { clockOverheadNs, loopTiming, runSyncLoop } from '../measure.js';
import { fromLoop, num, syncMethod } from '../outcome.js';
import type { ScenarioOutcome, ScenarioSpec } from '../spec.js';
import { benchTopic, type Message, makeBody, openStore, recordBytesFor } from '../store-api.js';

export async function tidemqAppend(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const bodyBytes = num(spec, 'bodyBytes');
  const batch = num(spec, 'batch');
  const store = await openStore(dir);

  const msg: Message = { topic: benchTopic, body: makeBody(bodyBytes) };
  const msgs: Message[] = Array.from({ length: batch }, () => msg);
  const recordBytes = store.append(msg).size;
  const before = store.stats();

  let batchApi = 'append() loop';
  let call: () => number;
  if (batch === 1) {
    call = () => {
      store.append(msg);
      return 1;
    };
  } else if (typeof store.appendBatch === 'function') {
    batchApi = 'appendBatch()';
    const appendBatch = store.appendBatch.bind(store);
    call = () => {
      appendBatch(msgs);
      return batch;
    };
  } else {
    call = () => {
      for (let i = 0; i < batch; i++) store.append(msg);
      return batch;
    };
  }

  const r = runSyncLoop({
    ...loopTiming(spec),
    maxCalls: Math.max(1, Math.floor(spec.maxBytes / (bodyBytes * batch))),
    latencyUnit: batch === 1 ? 'append() call' : `batch of ${batch} appends`,
    call,
  });
  const after = store.stats();
  // The store is not closed: closing would flush gigabytes of dirty pages the figures do not
  // include; the data directory is deleted (dirty pages and all) after the child exits.

  // Every append moved wrotePosition by exactly one record, plus at most one call's worth of
  // end-of-segment padding per segment rolled (a batch that does not fit the rest of a segment
  // goes whole into the next one).
  const appended = r.totalOps;
  const wroteBytes = after.wrotePosition - before.wrotePosition;
  const expectedBytes = appended * recordBytes;
  const rolled = Math.max(0, after.segments - before.segments);
  const appendedDelta = after.appended - before.appended;
  const passed =
    appendedDelta === appended &&
    wroteBytes >= expectedBytes &&
    wroteBytes <= expectedBytes + rolled * recordBytes * batch;
  return fromLoop(
    r,
    bodyBytes,
    {
      passed,
      description: `appended count rose by calls×batch, and wrotePosition by appended×recordBytes (+ end-of-segment padding, under one call per segment); flush mode ${after.flushMode}`,
      appended,
      appendedDelta,
      wroteBytes,
      expectedBytes,
      segmentsRolled: rolled,
      flushMode: after.flushMode,
      flushes: after.flushes - before.flushes,
    },
    syncMethod(batch === 1 ? 'one append()' : `one batch of ${batch}`),
    {
      recordBytes,
      recordBytesMatchLimit: recordBytes === recordBytesFor(bodyBytes),
      batchApi,
      batchSizeDefault: batchSize,
      clockOverheadNs: clockOverheadNs(),
      wroteMBPerSec: Math.round((r.ops * recordBytes) / 1e6 / (r.elapsedMs / 1000)),
    },
  );
}
