/**
 * What the dispatch worker reads from a record's properties without decoding them to a string:
 * where TAGS, KEYS and UNIQ_KEY are (scanProperties), and the Java hashCode of a tag or a key
 * straight from its UTF-8 bytes (hashText), for consume queue tag codes and index keys.
 */
import {
  NAME_VALUE_SEPARATOR,
  PROPERTY_KEYS,
  PROPERTY_SEPARATOR,
  PROPERTY_TAGS,
  PROPERTY_UNIQ_KEY,
} from './record-codec.js';

/**
 * Where the three properties the worker needs are in a record's properties bytes
 * (`name\u0001value\u0002…`), found in one pass without decoding them to a string: [start, end)
 * of each value, start -1 when absent.
 *
 * Every typed-array or DataView access in a loop costs ~10 instructions (V8 reloads the
 * buffer's pointer, length and detached bit each time), so the scan and the key hash read
 * values 4 bytes at a time where they can (a message id is 32+ bytes in every record).
 */
export const found = { tagsStart: -1, tagsEnd: -1, keysStart: -1, keysEnd: -1, uniqStart: -1, uniqEnd: -1 };
/** The property names as big-endian int32 words (TAGS and KEYS are 4 bytes, UNIQ_KEY 8). */
const TAGS_WORD = Buffer.from(PROPERTY_TAGS, 'latin1').readInt32BE(0);
const KEYS_WORD = Buffer.from(PROPERTY_KEYS, 'latin1').readInt32BE(0);
const UNIQ_WORD0 = Buffer.from(PROPERTY_UNIQ_KEY, 'latin1').readInt32BE(0);
const UNIQ_WORD1 = Buffer.from(PROPERTY_UNIQ_KEY, 'latin1').readInt32BE(4);
if (PROPERTY_TAGS.length !== 4 || PROPERTY_KEYS.length !== 4 || PROPERTY_UNIQ_KEY.length !== 8) {
  throw new Error('property-scan: property name lengths changed');
}
const NAME_END = NAME_VALUE_SEPARATOR.charCodeAt(0);
const VALUE_END = PROPERTY_SEPARATOR.charCodeAt(0);
const VALUE_END_x4 = Math.imul(VALUE_END, 0x01010101);

/** `view` and `buf` cover the same bytes (a segment mapping, or a test's buffer). */
export function scanProperties(view: DataView, buf: Buffer, start: number, end: number): void {
  found.tagsStart = found.keysStart = found.uniqStart = -1;
  // Pairs end at \u0002 and split at their first \u0001 (a pair without one is skipped), and a
  // repeated name's last value wins: as decodeProperties (and RocketMQ) read them.
  let i = start;
  while (i < end) {
    const pairStart = i;
    let b = 0;
    for (; i < end; i++) {
      b = buf[i]!;
      if (b === NAME_END || b === VALUE_END) break;
    }
    if (i >= end || b === VALUE_END) {
      i++;
      continue;
    }
    const nameEnd = i;
    const valueStart = nameEnd + 1;
    const pairEnd = valueEnd(view, buf, valueStart, end);
    i = pairEnd + 1;
    const n = nameEnd - pairStart;
    if (n === 4) {
      const w = view.getInt32(pairStart, false);
      if (w === TAGS_WORD) {
        found.tagsStart = valueStart;
        found.tagsEnd = pairEnd;
      } else if (w === KEYS_WORD) {
        found.keysStart = valueStart;
        found.keysEnd = pairEnd;
      }
    } else if (n === 8 && view.getInt32(pairStart, false) === UNIQ_WORD0) {
      if (view.getInt32(pairStart + 4, false) === UNIQ_WORD1) {
        found.uniqStart = valueStart;
        found.uniqEnd = pairEnd;
      }
    }
  }
}

/**
 * The first \u0002 in [from, end), or end: whole words while none of their 4 bytes is one
 * (x = word ^ 0x02020202 has a zero byte exactly when the word holds a \u0002; the classic
 * (x − 0x01010101) & ~x & 0x80808080 test is non-zero exactly then), then byte by byte.
 */
function valueEnd(view: DataView, buf: Buffer, from: number, end: number): number {
  let i = from;
  for (const wordsEnd = end - 3; i < wordsEnd; i += 4) {
    const x = view.getInt32(i, true) ^ VALUE_END_x4;
    if (((x - 0x01010101) & ~x & 0x80808080) !== 0) break;
  }
  while (i < end && buf[i] !== VALUE_END) i++;
  return i;
}

/** The value ranges scanProperties finds, as a copy (for tests). */
export function propertyRanges(buf: Buffer, start: number, end: number): typeof found {
  scanProperties(new DataView(buf.buffer, buf.byteOffset, buf.byteLength), buf, start, end);
  return { ...found };
}

/** 31^k mod 2^32 for the 4-lane hash below. */
const P1 = 31;
const P2 = 31 * 31;
const P3 = 31 * 31 * 31;
const P4 = 31 * 31 * 31 * 31;

/**
 * Java hashCode of the UTF-8 text buf[start, end) continued from `h` (the hash of what precedes
 * it): over the bytes while they are ASCII (one char each), else over the decoded string.
 * `view` covers the same bytes as `buf`.
 *
 * h·31 + c chained over every byte is one multiply-add per byte, each waiting for the last (~4
 * cycles a byte; a message id is 32+ bytes, hashed for every record). The same sum mod 2^32 is
 * taken here a 4-byte word at a time over 4 independent lanes, byte j of each word in lane j with
 * 31^4 as the lane's factor, and the lanes joined at the end: the multiplies overlap. Exact in
 * int32 arithmetic (a polynomial in 31 mod 2^32, however it is grouped).
 */
export function hashText(h: number, view: DataView, buf: Buffer, start: number, end: number): number {
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  let scale = 1; // 31^(bytes taken in words)
  let high = 0; // OR of the bytes: a high bit set when one is not ASCII
  let k = start;
  for (const wordsEnd = end - 3; k < wordsEnd; k += 4) {
    const w = view.getInt32(k, false);
    high |= w;
    a = (Math.imul(a, P4) + (w >>> 24)) | 0;
    b = (Math.imul(b, P4) + ((w >>> 16) & 0xff)) | 0;
    c = (Math.imul(c, P4) + ((w >>> 8) & 0xff)) | 0;
    d = (Math.imul(d, P4) + (w & 0xff)) | 0;
    scale = Math.imul(scale, P4);
  }
  let x = (Math.imul(h, scale) + Math.imul(a, P3) + Math.imul(b, P2) + Math.imul(c, P1) + d) | 0;
  for (; k < end; k++) {
    const byte = buf[k]!;
    high |= byte;
    x = (Math.imul(P1, x) + byte) | 0;
  }
  return (high & 0x80808080) === 0 ? x : hashTextSlow(h, buf, start, end);
}

/** hashText one byte at a time (and the text with a non-ASCII byte). */
export function hashTextSlow(h: number, buf: Buffer, start: number, end: number): number {
  let x = h;
  for (let k = start; k < end; k++) {
    const b = buf[k]!;
    if (b >= 0x80) {
      const rest = buf.toString('utf8', k, end);
      for (let j = 0; j < rest.length; j++) x = (Math.imul(31, x) + rest.charCodeAt(j)) | 0;
      return x;
    }
    x = (Math.imul(31, x) + b) | 0;
  }
  return x;
}
