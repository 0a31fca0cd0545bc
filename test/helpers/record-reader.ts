/**
 * An independent reader of RocketMQ commit log records, written from the format summary
 * (shared/docs/rocketmq-store-format.md §1), so tests can check the store against the bytes on
 * disk rather than against itself. Big-endian; V1 magic 0xDAA320A7 (1-byte topic length) or V2
 * 0xDAA320AB (2-byte); hosts 8 bytes each, or 20 when sysFlag bit 4 / bit 5 says IPv6.
 *
 *   0 totalSize 4 | 4 magic 4 | 8 bodyCRC 4 | 12 queueId 4 | 16 flag 4 | 20 queueOffset 8
 *  28 physicalOffset 8 | 36 sysFlag 4 | 40 bornTimestamp 8 | 48 bornHost 8/20 | storeTimestamp 8
 *     storeHost 8/20 | reconsumeTimes 4 | preparedTransactionOffset 8 | bodyLength 4 + body
 *     topicLength 1/2 + topic | propertiesLength 2 + properties ("k\u0001v\u0002"...)
 */

export const MAGIC_V1 = 0xdaa320a7;
export const MAGIC_V2 = 0xdaa320ab;
export const BLANK_MAGIC = 0xcbd43194;

export interface RawRecord {
  /** Position of the record within the buffer. */
  position: number;
  totalSize: number;
  magic: number;
  bodyCrc: number;
  queueId: number;
  flag: number;
  queueOffset: number;
  physicalOffset: number;
  sysFlag: number;
  bornTimestamp: number;
  storeTimestamp: number;
  /** storeHost bytes (IP then port), for the offset msgId. */
  storeHost: Buffer;
  reconsumeTimes: number;
  /** Position of the body within the buffer. */
  bodyPosition: number;
  body: Buffer;
  topic: string;
  properties: Record<string, string>;
}

function int64(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at) * 0x100000000 + buf.readUInt32BE(at + 4);
}

export function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of text.split('\u0002')) {
    if (entry === '') continue;
    const sep = entry.indexOf('\u0001');
    if (sep < 0) throw new Error(`property entry without separator: ${JSON.stringify(entry)}`);
    out[entry.slice(0, sep)] = entry.slice(sep + 1);
  }
  return out;
}

/** Reads the record at `position`; returns undefined at a BLANK marker or zero size. Throws on garbage. */
export function readRecord(buf: Buffer, position: number): RawRecord | undefined {
  const totalSize = buf.readInt32BE(position);
  const magic = buf.readUInt32BE(position + 4);
  if (totalSize === 0 || magic === BLANK_MAGIC) return undefined;
  if (magic !== MAGIC_V1 && magic !== MAGIC_V2) throw new Error(`bad magic at ${position}`);
  const sysFlag = buf.readInt32BE(position + 36);
  const bornHostBytes = sysFlag & 0x10 ? 20 : 8;
  const storeHostBytes = sysFlag & 0x20 ? 20 : 8;
  let p = position + 48 + bornHostBytes;
  const storeTimestamp = int64(buf, p);
  p += 8;
  const storeHost = Buffer.from(buf.subarray(p, p + storeHostBytes));
  p += storeHostBytes;
  const reconsumeTimes = buf.readInt32BE(p);
  p += 4 + 8;
  const bodyLength = buf.readInt32BE(p);
  p += 4;
  const bodyPosition = p;
  const body = buf.subarray(p, p + bodyLength);
  p += bodyLength;
  const topicLength = magic === MAGIC_V1 ? buf.readUInt8(p) : buf.readUInt16BE(p);
  p += magic === MAGIC_V1 ? 1 : 2;
  const topic = buf.toString('utf8', p, p + topicLength);
  p += topicLength;
  const propertiesLength = buf.readInt16BE(p);
  p += 2;
  const properties = parseProperties(buf.toString('utf8', p, p + propertiesLength));
  p += propertiesLength;
  if (p - position !== totalSize)
    throw new Error(`record at ${position}: fields add up to ${p - position}, totalSize ${totalSize}`);
  return {
    position,
    totalSize,
    magic,
    bodyCrc: buf.readInt32BE(position + 8),
    queueId: buf.readInt32BE(position + 12),
    flag: buf.readInt32BE(position + 16),
    queueOffset: int64(buf, position + 20),
    physicalOffset: int64(buf, position + 28),
    sysFlag,
    bornTimestamp: int64(buf, position + 40),
    storeTimestamp,
    storeHost,
    reconsumeTimes,
    bodyPosition,
    body,
    topic,
    properties,
  };
}

/** Every record of a segment buffer up to the BLANK marker or the first zero size. */
export function readSegment(buf: Buffer): { records: RawRecord[]; end: number; blank: boolean } {
  const records: RawRecord[] = [];
  let position = 0;
  while (position + 8 <= buf.length) {
    const record = readRecord(buf, position);
    if (record === undefined) {
      return { records, end: position, blank: buf.readUInt32BE(position + 4) === BLANK_MAGIC };
    }
    records.push(record);
    position += record.totalSize;
  }
  return { records, end: position, blank: false };
}

/** RocketMQ's offset message id: hex of the store host (IP, port) then the 8-byte offset. */
export function offsetMsgId(storeHost: Buffer, physicalOffset: number): string {
  const offset = Buffer.alloc(8);
  offset.writeUInt32BE(Math.floor(physicalOffset / 0x100000000), 0);
  offset.writeUInt32BE(physicalOffset >>> 0, 4);
  return Buffer.concat([storeHost, offset]).toString('hex').toUpperCase();
}
