/**
 * `tidemq verify <dir>`: CRC-checks every commit log record and checks every consume queue entry
 * against the record it points to (offset, size, queue id, queue offset, topic, tag hash).
 * Read-only; works on tidemq and RocketMQ store directories. Exit code 0: sound, 1: problems.
 */
import { javaHashCode } from '../store/record-codec.js';
import { StoreReader } from '../store/store-reader.js';

export interface VerifyReport {
  segments: number;
  records: number;
  consumeQueues: number;
  entries: number;
  problems: string[];
}

export function verifyStore(dir: string, maxProblems = 50): VerifyReport {
  const reader = new StoreReader(dir);
  const problems: string[] = [];
  const note = (p: string) => {
    if (problems.length < maxProblems) problems.push(p);
  };
  const reports = reader.validate();
  let records = 0;
  reports.forEach((r, i) => {
    records += r.records;
    const last = i === reports.length - 1;
    if (r.stop !== 'blank' && r.stop !== 'end') {
      note(
        `commit log ${r.name}: ${r.stop} damage at position ${r.endPosition} (${r.records} valid records before it)`,
      );
    } else if (r.stop === 'end' && !last) {
      note(
        `commit log ${r.name}: ends at ${r.endPosition} without an end-of-segment marker, but later segments exist`,
      );
    }
  });
  let entries = 0;
  const queues = reader.consumeQueues();
  for (const cq of queues) {
    for (let k = cq.minOffset; k < cq.maxOffset; k++) {
      const e = cq.entry(k);
      if (!e || e.size === 0x7fffffff) continue;
      entries++;
      const where = `consume queue ${cq.topic}/${cq.queueId} entry ${k}`;
      const rec = reader.get(e.physicalOffset);
      if (!rec) {
        if (e.physicalOffset >= (reader.segments[0]?.fromOffset ?? 0))
          note(`${where}: no valid record at ${e.physicalOffset}`);
        continue;
      }
      if (rec.size !== e.size) note(`${where}: size ${e.size}, record has ${rec.size}`);
      if (rec.topic !== cq.topic || rec.queueId !== cq.queueId) {
        note(`${where}: points to a record of ${rec.topic}/${rec.queueId}`);
      }
      if (rec.queueOffset !== k) note(`${where}: record has queue offset ${rec.queueOffset}`);
      const tags = rec.tags;
      const code = tags ? javaHashCode(tags) : 0;
      if (code !== e.tagsCode)
        note(`${where}: tags code ${e.tagsCode}, record tags ${JSON.stringify(tags)} hash to ${code}`);
    }
  }
  return { segments: reports.length, records, consumeQueues: queues.length, entries, problems };
}
