/**
 * `tidemq inspect <dir>`: what a store holds — segments, topics and queues with their offsets and
 * dispatch lag, index files — and single messages by physical offset, queue position or key.
 * Read-only; works on tidemq and RocketMQ store directories.
 */

import type { StoredRecord } from '../store/record-codec.js';
import { StoreReader } from '../store/store-reader.js';

export interface InspectOptions {
  offset?: number;
  topic?: string;
  queue?: number;
  from?: number;
  count?: number;
  key?: string;
  json?: boolean;
}

function describe(rec: StoredRecord): Record<string, unknown> {
  const preview = rec.body.subarray(0, 200).toString('utf8');
  return { ...rec.toJSON(), body: preview + (rec.body.length > 200 ? '…' : '') };
}

export function inspectStore(dir: string, opts: InspectOptions): unknown {
  const reader = new StoreReader(dir);
  const segments = reader.validate();
  if (opts.offset !== undefined) {
    const rec = reader.get(opts.offset);
    if (!rec) throw new Error(`no valid record starts at physical offset ${opts.offset}`);
    return describe(rec);
  }
  if (opts.key !== undefined) {
    if (!opts.topic) throw new Error('--key needs --topic');
    return reader.queryByKey(opts.topic, opts.key).map(describe);
  }
  if (opts.topic !== undefined && opts.queue !== undefined) {
    const cq = reader.consumeQueues().find((q) => q.topic === opts.topic && q.queueId === opts.queue);
    if (!cq) throw new Error(`no consume queue ${opts.topic}/${opts.queue}`);
    const out: unknown[] = [];
    const from = opts.from ?? cq.minOffset;
    for (let k = from; k < Math.min(cq.maxOffset, from + (opts.count ?? 10)); k++) {
      const e = cq.entry(k);
      const rec = e ? reader.get(e.physicalOffset) : undefined;
      out.push(rec ? describe(rec) : { queueOffset: k, missing: true });
    }
    return out;
  }
  // Overview: per (topic, queue) messages in the commit log vs entries dispatched.
  const inLog = new Map<string, { count: number; lastOffset: number }>();
  for (const rec of reader.scan()) {
    const key = `${rec.topic}/${rec.queueId}`;
    const q = inLog.get(key) ?? { count: 0, lastOffset: -1 };
    q.count++;
    q.lastOffset = Math.max(q.lastOffset, rec.queueOffset);
    inLog.set(key, q);
  }
  const queues = reader.consumeQueues().map((cq) => {
    const key = `${cq.topic}/${cq.queueId}`;
    const log = inLog.get(key);
    inLog.delete(key);
    const logMax = log ? log.lastOffset + 1 : 0;
    return {
      topic: cq.topic,
      queueId: cq.queueId,
      minOffset: cq.minOffset,
      maxOffset: cq.maxOffset,
      lag: Math.max(0, logMax - cq.maxOffset),
    };
  });
  for (const [key, log] of inLog) {
    const [topic, queueId] = [
      key.slice(0, key.lastIndexOf('/')),
      Number(key.slice(key.lastIndexOf('/') + 1)),
    ];
    queues.push({ topic, queueId, minOffset: 0, maxOffset: 0, lag: log.lastOffset + 1 });
  }
  queues.sort((a, b) => (a.topic === b.topic ? a.queueId - b.queueId : a.topic < b.topic ? -1 : 1));
  return {
    dir: reader.dir,
    segmentBytes: reader.segmentBytes,
    segments,
    queues,
    indexFiles: reader.indexFiles().map((f) => ({
      file: f.filePath.slice(f.filePath.lastIndexOf('/') + 1),
      entries: f.indexCount - 1,
      beginTimestamp: f.beginTimestamp,
      endTimestamp: f.endTimestamp,
      beginPhyOffset: f.beginPhyOffset,
      endPhyOffset: f.endPhyOffset,
    })),
  };
}
