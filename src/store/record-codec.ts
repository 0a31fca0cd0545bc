/**
 * The commit log record, byte for byte as Apache RocketMQ writes it (big-endian throughout).
 *
 * ```
 *  offset  size  field
 *  0       4     totalSize               whole record, this field included
 *  4       4     magicCode               0xDAA320A7 (V1: 1-byte topic length)
 *                                        0xDAA320AB (V2: 2-byte topic length, topics > 127 B)
 *  8       4     bodyCRC                 CRC32(body) & 0x7FFFFFFF
 *  12      4     queueId
 *  16      4     flag                    client flag, opaque
 *  20      8     queueOffset             per (topic, queueId) sequence
 *  28      8     physicalOffset          commit log offset of this record
 *  36      4     sysFlag                 bit 4: born host IPv6, bit 5: store host IPv6, …
 *  40      8     bornTimestamp
 *  48      8|20  bornHost                IPv4 (4) + port (4), or IPv6 (16) + port (4)
 *  56      8     storeTimestamp          (offsets from here assume IPv4 hosts)
 *  64      8|20  storeHost
 *  72      4     reconsumeTimes
 *  76      8     preparedTransactionOffset
 *  84      4+N   bodyLength, body
 *  88+N    1|2+T topicLength, topic      UTF-8
 *  …       2+P   propertiesLength, properties   `key \u0001 value \u0002` pairs, UTF-8
 * ```
 * End-of-segment marker (BLANK): `totalSize = bytes left in the segment`, magic 0xCBD43194; the
 * rest of the segment is not touched. An append needs `totalSize + 8` bytes so the marker always
 * fits. A crash can leave a torn record at the tail: a header without its body, or a body whose
 * CRC does not match; recovery truncates there (recovery.ts).
 *
 * 64-bit fields are written and read as two 32-bit halves (values stay below 2^53): no BigInt.
 */
// Buffer from its module: the global `Buffer` is an accessor (~8 ns a read on the read path).
import { Buffer } from 'node:buffer';
import { native } from '../native.js';

export const MAGIC_V1 = 0xdaa320a7 | 0;
export const MAGIC_V2 = 0xdaa320ab | 0;
export const MAGIC_BLANK = 0xcbd43194 | 0;
export const BLANK_BYTES = 8;

/** Fixed part of a V1 record with IPv4 hosts: everything but body, topic and properties. */
export const FIXED_V1_BYTES = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + 1 + 2;
if (FIXED_V1_BYTES !== 91) throw new Error('record layout: fixed part must be 91 bytes');

export const OFF_TOTAL_SIZE = 0;
export const OFF_MAGIC = 4;
export const OFF_BODY_CRC = 8;
export const OFF_QUEUE_ID = 12;
export const OFF_FLAG = 16;
export const OFF_QUEUE_OFFSET = 20;
export const OFF_PHYSICAL_OFFSET = 28;
export const OFF_SYS_FLAG = 36;
export const OFF_BORN_TIMESTAMP = 40;
export const OFF_BORN_HOST = 48;

export const SYSFLAG_BORNHOST_V6 = 1 << 4;
export const SYSFLAG_STOREHOST_V6 = 1 << 5;

export const MAX_TOPIC_BYTES = 255;
export const MAX_PROPERTIES_BYTES = 32767;

/** Property names RocketMQ uses. */
export const PROPERTY_TAGS = 'TAGS';
export const PROPERTY_KEYS = 'KEYS';
/** RocketMQ's MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX: the client-made message id. */
export const PROPERTY_UNIQ_KEY = 'UNIQ_KEY';
export const NAME_VALUE_SEPARATOR = '\u0001';
export const PROPERTY_SEPARATOR = '\u0002';

const TWO_32 = 0x100000000;

export function writeInt64(view: DataView, pos: number, value: number): void {
  // separate stores per branch, not one store of a chosen value (see encodeRecord's magic)
  if (value >= 0 && value < TWO_32) view.setUint32(pos, 0, false);
  else {
    const hi = value >= 0 ? (value / TWO_32) >>> 0 : Math.floor(value / TWO_32);
    view.setUint32(pos, hi >>> 0, false);
  }
  view.setUint32(pos + 4, value >>> 0, false);
}

export function readInt64(view: DataView, pos: number): number {
  return view.getInt32(pos, false) * TWO_32 + view.getUint32(pos + 4, false);
}

// --- CRC32 -------------------------------------------------------------------------------------

const CRC_TABLE = new Int32Array(256 * 4);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[i] = c;
}
for (let i = 0; i < 256; i++) {
  for (let s = 1; s < 4; s++) {
    const prev = CRC_TABLE[(s - 1) * 256 + i]!;
    CRC_TABLE[s * 256 + i] = (prev >>> 8) ^ CRC_TABLE[prev & 0xff]!;
  }
}

/** Below this many bytes a JS slicing-by-4 loop beats the cost of a native call. */
const NATIVE_CRC_MIN_BYTES = 192;

/** CRC32 of bytes[offset, offset+length), masked to 31 bits as RocketMQ stores it. */
export function bodyCrc(bytes: Uint8Array, offset: number, length: number): number {
  if (length >= NATIVE_CRC_MIN_BYTES) return native.crc32(bytes, offset, length) & 0x7fffffff;
  const t = CRC_TABLE;
  let c = -1;
  let i = offset;
  const end4 = offset + (length & ~3);
  while (i < end4) {
    c ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    c = t[768 + (c & 0xff)]! ^ t[512 + ((c >>> 8) & 0xff)]! ^ t[256 + ((c >>> 16) & 0xff)]! ^ t[c >>> 24]!;
    i += 4;
  }
  const end = offset + length;
  while (i < end) c = t[(c ^ bytes[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c & 0x7fffffff;
}

// --- Java String.hashCode ------------------------------------------------------------------------

/** Java's String.hashCode over UTF-16 code units, as a signed 32-bit int (tag codes, index keys). */
export function javaHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

// --- properties ----------------------------------------------------------------------------------

export function encodeProperties(props: Record<string, string>): string {
  let out = '';
  for (const name in props) out += name + NAME_VALUE_SEPARATOR + props[name] + PROPERTY_SEPARATOR;
  return out;
}

export function decodeProperties(text: string): Record<string, string> {
  const props: Record<string, string> = {};
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(PROPERTY_SEPARATOR, start);
    if (end < 0) end = text.length;
    const sep = text.indexOf(NAME_VALUE_SEPARATOR, start);
    if (sep > start && sep < end) props[text.slice(start, sep)] = text.slice(sep + 1, end);
    start = end + 1;
  }
  return props;
}

// --- hosts and message ids -------------------------------------------------------------------------

/** Host fields: IPv4 address as a 32-bit int and a port. */
export interface HostAddress {
  ip: number;
  port: number;
}

export function parseIpv4(text: string): number {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`not an IPv4 address: ${text}`);
  }
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).toUpperCase().padStart(2, '0'));

function hex32(v: number): string {
  return HEX[(v >>> 24) & 0xff]! + HEX[(v >>> 16) & 0xff]! + HEX[(v >>> 8) & 0xff]! + HEX[v & 0xff]!;
}

/** RocketMQ's offset message id: 16 bytes (store IPv4, port, physical offset) as upper-case hex. */
export function offsetMsgId(storeHost: HostAddress, physicalOffset: number): string {
  return (
    hex32(storeHost.ip) +
    hex32(storeHost.port) +
    hex32(Math.floor(physicalOffset / TWO_32)) +
    hex32(physicalOffset >>> 0)
  );
}

// --- decoding ------------------------------------------------------------------------------------

const utf8 = new TextDecoder('utf-8');

/** Where the variable parts of a record lie, given its start. Throws nothing; callers validate. */
export interface RecordLayout {
  storeTimestampPos: number;
  reconsumeTimesPos: number;
  bodyLengthPos: number;
}

export function recordLayout(view: DataView, pos: number): RecordLayout {
  const sysFlag = view.getInt32(pos + OFF_SYS_FLAG, false);
  const bornHostBytes = sysFlag & SYSFLAG_BORNHOST_V6 ? 20 : 8;
  const storeHostBytes = sysFlag & SYSFLAG_STOREHOST_V6 ? 20 : 8;
  const storeTimestampPos = pos + OFF_BORN_HOST + bornHostBytes;
  const reconsumeTimesPos = storeTimestampPos + 8 + storeHostBytes;
  return { storeTimestampPos, reconsumeTimesPos, bodyLengthPos: reconsumeTimesPos + 4 + 8 };
}

/** recordLayout().storeTimestampPos without the object (read hot paths), given the sysFlag. */
export function storeTimestampPosOf(pos: number, sysFlag: number): number {
  return pos + OFF_BORN_HOST + (sysFlag & SYSFLAG_BORNHOST_V6 ? 20 : 8);
}

/** recordLayout().bodyLengthPos from storeTimestampPosOf() and the sysFlag. */
export function bodyLengthPosOf(storeTimestampPos: number, sysFlag: number): number {
  return storeTimestampPos + 8 + (sysFlag & SYSFLAG_STOREHOST_V6 ? 20 : 8) + 12;
}

/**
 * A record read in place. Offsets, sizes and the body are read eagerly (cheap); topic and
 * properties are decoded on first access. `body` is a view over the segment mapping.
 */
export class StoredRecord {
  readonly physicalOffset: number;
  readonly size: number;
  readonly queueId: number;
  readonly queueOffset: number;
  readonly storeTimestamp: number;
  readonly body: Buffer;
  private readonly view: DataView;
  private readonly pos: number;
  private readonly topicPos: number;
  private readonly storeHost: HostAddress;
  private topicCache: string | undefined;
  private propsCache: Record<string, string> | undefined;

  constructor(
    buffer: ArrayBuffer,
    view: DataView,
    pos: number,
    physicalOffset: number,
    storeHost: HostAddress,
  ) {
    this.view = view;
    this.pos = pos;
    this.physicalOffset = physicalOffset;
    this.storeHost = storeHost;
    this.size = view.getInt32(pos, false);
    this.queueId = view.getInt32(pos + OFF_QUEUE_ID, false);
    this.queueOffset = readInt64(view, pos + OFF_QUEUE_OFFSET);
    // recordLayout() inlined: this constructor is on the read hot path.
    const sysFlag = view.getInt32(pos + OFF_SYS_FLAG, false);
    const storeTimestampPos = pos + OFF_BORN_HOST + (sysFlag & SYSFLAG_BORNHOST_V6 ? 20 : 8);
    const bodyLengthPos = storeTimestampPos + 8 + (sysFlag & SYSFLAG_STOREHOST_V6 ? 20 : 8) + 12;
    this.storeTimestamp = readInt64(view, storeTimestampPos);
    const bodyLength = view.getInt32(bodyLengthPos, false);
    this.body = Buffer.from(buffer, bodyLengthPos + 4, bodyLength);
    this.topicPos = bodyLengthPos + 4 + bodyLength;
  }

  /** Offset message id from the record's own store host (IPv4) and offset. */
  get msgId(): string {
    const v = this.view;
    if (v.getInt32(this.pos + OFF_SYS_FLAG, false) & SYSFLAG_STOREHOST_V6) {
      return offsetMsgId(this.storeHost, this.physicalOffset);
    }
    const at = recordLayout(v, this.pos).storeTimestampPos + 8;
    return offsetMsgId({ ip: v.getUint32(at, false), port: v.getInt32(at + 4, false) }, this.physicalOffset);
  }

  get topic(): string {
    if (this.topicCache === undefined) {
      const v2 = this.view.getInt32(this.pos + OFF_MAGIC, false) === MAGIC_V2;
      const len = v2 ? this.view.getUint16(this.topicPos, false) : this.view.getUint8(this.topicPos);
      const start = this.topicPos + (v2 ? 2 : 1);
      this.topicCache = utf8.decode(new Uint8Array(this.view.buffer, start, len));
    }
    return this.topicCache;
  }

  get properties(): Record<string, string> {
    if (this.propsCache === undefined) {
      const v2 = this.view.getInt32(this.pos + OFF_MAGIC, false) === MAGIC_V2;
      const topicLen = v2 ? this.view.getUint16(this.topicPos, false) : this.view.getUint8(this.topicPos);
      const propsPos = this.topicPos + (v2 ? 2 : 1) + topicLen;
      const len = this.view.getInt16(propsPos, false);
      this.propsCache =
        len > 0 ? decodeProperties(utf8.decode(new Uint8Array(this.view.buffer, propsPos + 2, len))) : {};
    }
    return this.propsCache;
  }

  get tags(): string | undefined {
    return this.properties[PROPERTY_TAGS];
  }

  get keys(): string[] {
    const k = this.properties[PROPERTY_KEYS];
    return k ? k.split(' ').filter((x) => x.length > 0) : [];
  }

  get bornTimestamp(): number {
    return readInt64(this.view, this.pos + OFF_BORN_TIMESTAMP);
  }

  get reconsumeTimes(): number {
    return this.view.getInt32(recordLayout(this.view, this.pos).reconsumeTimesPos, false);
  }

  get flag(): number {
    return this.view.getInt32(this.pos + OFF_FLAG, false);
  }

  get sysFlag(): number {
    return this.view.getInt32(this.pos + OFF_SYS_FLAG, false);
  }

  get bodyCrc(): number {
    return this.view.getInt32(this.pos + OFF_BODY_CRC, false);
  }

  /** A plain object with every field (for logging, JSON, tests). */
  toJSON(): Record<string, unknown> {
    return {
      physicalOffset: this.physicalOffset,
      size: this.size,
      msgId: this.msgId,
      topic: this.topic,
      queueId: this.queueId,
      queueOffset: this.queueOffset,
      tags: this.tags,
      keys: this.keys,
      properties: this.properties,
      bornTimestamp: this.bornTimestamp,
      storeTimestamp: this.storeTimestamp,
      reconsumeTimes: this.reconsumeTimes,
      flag: this.flag,
      sysFlag: this.sysFlag,
      bodyCrc: this.bodyCrc,
      bodyLength: this.body.length,
    };
  }
}

// --- encoding ------------------------------------------------------------------------------------

/** The fixed fields of a record to encode; one instance is reused across appends. */
export interface RecordFields {
  queueId: number;
  flag: number;
  queueOffset: number;
  physicalOffset: number;
  sysFlag: number;
  bornTimestamp: number;
  storeTimestamp: number;
  reconsumeTimes: number;
  preparedTransactionOffset: number;
}

/** Size of a V1/V2 record with IPv4 hosts. */
export function recordSize(topicLength: number, bodyLength: number, propertiesLength: number): number {
  return FIXED_V1_BYTES + (topicLength > 127 ? 1 : 0) + topicLength + bodyLength + propertiesLength;
}

/**
 * Encode a record (IPv4 hosts) at `pos` of a segment, all but the properties bytes: returns where
 * those go (the caller writes `propertiesLength` bytes there: record-properties.ts). `buf` and
 * `view` are two views of the same mapping. The body CRC is left 0: the record is sealed (CRC
 * computed and stored) by native.commit on a libuv thread, before it is flushed or reported durable.
 */
export function encodeRecord(
  buf: Buffer,
  view: DataView,
  pos: number,
  totalSize: number,
  f: RecordFields,
  bornHost: HostAddress,
  storeHost: HostAddress,
  topicBytes: Uint8Array,
  body: Uint8Array | string,
  bodyLength: number,
  propertiesLength: number,
): number {
  const v2 = topicBytes.length > 127;
  view.setInt32(pos, totalSize, false);
  // Not `v2 ? MAGIC_V2 : MAGIC_V1`: TurboFan then calls the DataView builtin for this store
  // instead of inlining it (~5 ns a record).
  if (v2) view.setInt32(pos + OFF_MAGIC, MAGIC_V2, false);
  else view.setInt32(pos + OFF_MAGIC, MAGIC_V1, false);
  view.setInt32(pos + OFF_QUEUE_ID, f.queueId, false);
  view.setInt32(pos + OFF_FLAG, f.flag, false);
  writeInt64(view, pos + OFF_QUEUE_OFFSET, f.queueOffset);
  writeInt64(view, pos + OFF_PHYSICAL_OFFSET, f.physicalOffset);
  view.setInt32(pos + OFF_SYS_FLAG, f.sysFlag & ~(SYSFLAG_BORNHOST_V6 | SYSFLAG_STOREHOST_V6), false);
  writeInt64(view, pos + OFF_BORN_TIMESTAMP, f.bornTimestamp);
  view.setUint32(pos + 48, bornHost.ip, false);
  view.setInt32(pos + 52, bornHost.port, false);
  writeInt64(view, pos + 56, f.storeTimestamp);
  view.setUint32(pos + 64, storeHost.ip, false);
  view.setInt32(pos + 68, storeHost.port, false);
  view.setInt32(pos + 72, f.reconsumeTimes, false);
  writeInt64(view, pos + 76, f.preparedTransactionOffset);
  view.setInt32(pos + 84, bodyLength, false);
  let p = pos + 88;
  if (typeof body === 'string') buf.write(body, p, bodyLength, 'utf8');
  else buf.set(body, p);
  view.setInt32(pos + OFF_BODY_CRC, 0, false); // sealed later, off the JS thread (native.commit)
  p += bodyLength;
  if (v2) {
    view.setInt16(p, topicBytes.length, false);
    p += 2;
  } else {
    view.setInt8(p, topicBytes.length);
    p += 1;
  }
  const topicLength = topicBytes.length;
  if (topicLength <= 32) for (let k = 0; k < topicLength; k++) buf[p + k] = topicBytes[k]!;
  else buf.set(topicBytes, p);
  p += topicLength;
  view.setInt16(p, propertiesLength, false);
  return p + 2;
}

/** Write the BLANK end-of-segment marker: `remaining` bytes of the segment are left unused. */
export function encodeBlank(view: DataView, pos: number, remaining: number): void {
  view.setInt32(pos, remaining, false);
  view.setInt32(pos + OFF_MAGIC, MAGIC_BLANK, false);
}
