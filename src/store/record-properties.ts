/**
 * The properties field of a record (`name \u0001 value \u0002` pairs, UTF-8; see record-codec.ts),
 * measured and written straight into the segment from a message's tags, keys and properties —
 * no properties string is built, measured and then encoded again.
 *
 * Order: TAGS (from `tags`), KEYS (`keys` joined by spaces), the `properties` in their own order,
 * then UNIQ_KEY (from `uniqKey`, or a batch's UniqKeyRun); a name a field gives is left out of
 * `properties`.
 *
 * measurePropertiesBytes() validates and returns the exact byte count (what Buffer.byteLength of
 * the text would say: a lone surrogate takes 3 bytes, as the UTF-8 writer replaces it with
 * U+FFFD); writePropertiesBytes() then writes exactly that many bytes. Names, tags, keys and ids
 * are nearly always ASCII, so each string is first copied as ASCII char by char and only a string
 * holding a non-ASCII character goes through the UTF-8 writer. A UniqKeyRun's ids are never
 * strings here: checkUniqKeyRun() turns `UNIQ_KEY \u0001 <prefix>` into 32-bit words once per
 * batch, and each id is those words plus its sequence number's hex digits, two at a time.
 */
import { Buffer } from 'node:buffer';
import { StoreError } from '../errors.js';
import type { Message, UniqKeyRun } from './types.js';

const PROPERTY_TAGS = 'TAGS';
const PROPERTY_KEYS = 'KEYS';
const PROPERTY_UNIQ_KEY = 'UNIQ_KEY';
const NAME_VALUE_SEPARATOR = 0x01;
const PROPERTY_SEPARATOR = 0x02;
const SPACE = 0x20;
/** Above this many UTF-16 units a string is scanned and encoded natively (it pays for the call). */
const NATIVE_MIN_LENGTH = 256;

/**
 * UTF-8 bytes of `s` (Buffer.byteLength's count), or -1 if it holds a separator (\u0001, \u0002).
 * With `noSpace`, a space is refused too (-1), as in a key.
 */
export function utf8BytesWithoutSeparator(s: string, noSpace: boolean): number {
  const n = s.length;
  if (n > NATIVE_MIN_LENGTH) {
    if (s.includes('\u0001') || s.includes('\u0002') || (noSpace && s.includes(' '))) return -1;
    return Buffer.byteLength(s, 'utf8');
  }
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      if (c === NAME_VALUE_SEPARATOR || c === PROPERTY_SEPARATOR || (noSpace && c === SPACE)) return -1;
    } else if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a surrogate pair: 2 units, 4 bytes
      i++;
    } else bytes += 2; // the rest of the BMP, lone surrogates included (U+FFFD): 3 bytes
  }
  return bytes;
}

function badTags(): StoreError {
  return new StoreError('INVALID_MESSAGE', 'tags must be a non-empty string without \\u0001 or \\u0002.');
}

function badKeys(): StoreError {
  return new StoreError(
    'INVALID_MESSAGE',
    'keys must be a non-empty string or an array of them, without spaces, \\u0001 or \\u0002.',
  );
}

/** `keys` as an array (one key given as a string), or undefined when it is neither. */
function keyList(keys: unknown): readonly unknown[] | undefined {
  if (typeof keys === 'string') return [keys];
  return Array.isArray(keys) ? keys : undefined;
}

/**
 * Validate a message's tags, keys and properties and return the byte length of its properties
 * field (0 when it has none). `runKeyBytes` ≥ 0: a UniqKeyRun gives the message a UNIQ_KEY of that
 * many bytes (its own uniqKey wins). Throws INVALID_MESSAGE as the record would be malformed
 * otherwise.
 */
export function measurePropertiesBytes(msg: Message, runKeyBytes = -1): number {
  let total = 0;
  const tags: unknown = msg.tags;
  if (tags !== undefined) {
    if (typeof tags !== 'string' || tags.length === 0) throw badTags();
    const b = utf8BytesWithoutSeparator(tags, false);
    if (b < 0) throw badTags();
    total += PROPERTY_TAGS.length + 2 + b;
  }
  if (msg.keys !== undefined) {
    const keys = keyList(msg.keys);
    if (keys === undefined) throw badKeys();
    let b = 0;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (typeof k !== 'string' || k.length === 0) throw badKeys();
      const kb = utf8BytesWithoutSeparator(k, true);
      if (kb < 0) throw badKeys();
      b += kb;
    }
    if (keys.length > 0) total += PROPERTY_KEYS.length + 2 + b + keys.length - 1;
  }
  const props: unknown = msg.properties;
  if (props !== undefined) {
    if (props === null || typeof props !== 'object') {
      throw new StoreError('INVALID_MESSAGE', 'properties must be an object of string values.');
    }
    const record = props as Record<string, unknown>;
    for (const name in record) {
      const value = record[name];
      const nb = name.length === 0 ? -1 : utf8BytesWithoutSeparator(name, false);
      const vb = typeof value === 'string' ? utf8BytesWithoutSeparator(value, false) : -1;
      if (nb < 0 || vb < 0) {
        throw new StoreError(
          'INVALID_MESSAGE',
          `property ${JSON.stringify(name)} is not valid: names and values are strings without \\u0001 or \\u0002.`,
        );
      }
      if (name === PROPERTY_TAGS && tags !== undefined) continue;
      if (name === PROPERTY_KEYS && msg.keys !== undefined) continue;
      if (name === PROPERTY_UNIQ_KEY && (msg.uniqKey !== undefined || runKeyBytes >= 0)) continue;
      total += nb + 2 + vb;
    }
  }
  const uniqKey: unknown = msg.uniqKey;
  if (uniqKey !== undefined) {
    const b =
      typeof uniqKey === 'string' && uniqKey.length > 0 ? utf8BytesWithoutSeparator(uniqKey, false) : -1;
    if (b < 0) {
      throw new StoreError('INVALID_MESSAGE', 'uniqKey must be a non-empty string without \u0001 or \u0002.');
    }
    total += PROPERTY_UNIQ_KEY.length + 2 + b;
  } else if (runKeyBytes >= 0) total += PROPERTY_UNIQ_KEY.length + 2 + runKeyBytes;
  return total;
}

/** Write `s` at `p` (ASCII char by char; otherwise UTF-8). Returns the position after it. */
function writeString(buf: Buffer, p: number, s: string): number {
  const n = s.length;
  if (n > NATIVE_MIN_LENGTH) return p + buf.write(s, p, 'utf8');
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(k);
    if (c >= 0x80) return p + buf.write(s, p, 'utf8');
    buf[p + k] = c;
  }
  return p + n;
}

/** One `name \u0001 value \u0002` property at `p`; the position after it. */
function writeProperty(buf: Buffer, p: number, name: string, value: string): number {
  p = writeString(buf, p, name);
  buf[p++] = NAME_VALUE_SEPARATOR;
  p = writeString(buf, p, value);
  buf[p++] = PROPERTY_SEPARATOR;
  return p;
}

/**
 * `UNIQ_KEY \u0001 <prefix>` of the last UniqKeyRun prefix seen, as big-endian 32-bit words and
 * the bytes left over: a run's ids are written a word at a time, and their sequence numbers two
 * hex digits at a time (HEX_PAIRS).
 */
let templatePrefix: Uint8Array | undefined;
let templateWords = new Int32Array(0);
let templateTail = new Uint8Array(0);
const HEX_PAIRS = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  const digit = (d: number): number => (d < 10 ? 0x30 + d : 0x41 + d - 10);
  HEX_PAIRS[i] = (digit(i >> 4) << 8) | digit(i & 15);
}

/** Make the template `prefix`'s (once per batch: a caller may have changed the array's bytes). */
function useTemplate(prefix: Uint8Array): void {
  if (templatePrefix !== undefined && Buffer.compare(prefix, templatePrefix) === 0) return;
  const bytes = Buffer.concat([Buffer.from(`${PROPERTY_UNIQ_KEY}\u0001`, 'latin1'), prefix]);
  const words = bytes.length >>> 2;
  templateWords = new Int32Array(words);
  for (let k = 0; k < words; k++) templateWords[k] = bytes.readInt32BE(4 * k);
  templateTail = new Uint8Array(bytes.subarray(4 * words));
  templatePrefix = Uint8Array.from(prefix);
}

/**
 * Write `UNIQ_KEY \u0001 <prefix><seq as 8 hex digits> \u0002` at `p` for the prefix of the
 * batch's checkUniqKeyRun(); returns the end.
 */
function writeRunKey(buf: Buffer, view: DataView, p: number, seq: number): number {
  const words = templateWords;
  for (let k = 0; k < words.length; k++) {
    view.setInt32(p, words[k]!, false);
    p += 4;
  }
  const tail = templateTail;
  for (let k = 0; k < tail.length; k++) buf[p++] = tail[k]!;
  view.setUint16(p, HEX_PAIRS[seq >>> 24]!, false);
  view.setUint16(p + 2, HEX_PAIRS[(seq >>> 16) & 0xff]!, false);
  view.setUint16(p + 4, HEX_PAIRS[(seq >>> 8) & 0xff]!, false);
  view.setUint16(p + 6, HEX_PAIRS[seq & 0xff]!, false);
  buf[p + 8] = PROPERTY_SEPARATOR;
  return p + 9;
}

/**
 * Write the properties field of a message measurePropertiesBytes() accepted, at `p` (`buf` and
 * `view` over the same bytes); `seq` ≥ 0: its UNIQ_KEY comes from `run` (as measured). Returns the
 * position after it (p + the measured length).
 */
export function writePropertiesBytes(
  buf: Buffer,
  view: DataView,
  p: number,
  msg: Message,
  run?: UniqKeyRun,
  seq = -1,
): number {
  const tags = msg.tags;
  if (tags !== undefined) p = writeProperty(buf, p, PROPERTY_TAGS, tags);
  if (msg.keys !== undefined) {
    const keys = keyList(msg.keys) as readonly string[];
    if (keys.length > 0) {
      p = writeString(buf, p, PROPERTY_KEYS);
      buf[p++] = NAME_VALUE_SEPARATOR;
      for (let i = 0; i < keys.length; i++) {
        if (i > 0) buf[p++] = SPACE;
        p = writeString(buf, p, keys[i]!);
      }
      buf[p++] = PROPERTY_SEPARATOR;
    }
  }
  const props = msg.properties;
  if (props !== undefined) {
    for (const name in props) {
      if (name === PROPERTY_TAGS && tags !== undefined) continue;
      if (name === PROPERTY_KEYS && msg.keys !== undefined) continue;
      if (name === PROPERTY_UNIQ_KEY && (msg.uniqKey !== undefined || seq >= 0)) continue;
      p = writeProperty(buf, p, name, props[name]!);
    }
  }
  const uniqKey = msg.uniqKey;
  if (uniqKey !== undefined) p = writeProperty(buf, p, PROPERTY_UNIQ_KEY, uniqKey);
  else if (run !== undefined && seq >= 0) p = writeRunKey(buf, view, p, seq);
  return p;
}

/**
 * Throws INVALID_MESSAGE unless `run` is a well-formed UniqKeyRun for `count` messages; then
 * readies its prefix for writePropertiesBytes (call it before the batch's writes).
 */
export function checkUniqKeyRun(run: UniqKeyRun, count: number): void {
  const prefix: unknown = run?.prefix;
  const sequence: unknown = run?.sequence;
  let ok =
    prefix instanceof Uint8Array &&
    typeof sequence === 'object' &&
    sequence !== null &&
    (sequence as ArrayLike<number>).length >= count;
  if (ok) {
    const bytes = prefix as Uint8Array;
    for (let k = 0; k < bytes.length; k++) {
      const b = bytes[k]!;
      if (b >= 0x80 || b === NAME_VALUE_SEPARATOR || b === PROPERTY_SEPARATOR) ok = false;
    }
  }
  if (!ok) {
    throw new StoreError(
      'INVALID_MESSAGE',
      'a uniqKey run needs an ASCII prefix (Uint8Array, no \\u0001 or \\u0002) and a sequence number per message.',
    );
  }
  useTemplate(prefix as Uint8Array);
}

/** Sequence number of message i of a run (-1: none); throws INVALID_MESSAGE if not one. */
export function runSequence(run: UniqKeyRun, i: number): number {
  const seq = run.sequence[i];
  if (seq === -1 || (Number.isInteger(seq) && seq! >= 0 && seq! <= 0xffffffff)) return seq!;
  throw new StoreError(
    'INVALID_MESSAGE',
    `uniqKey run: sequence ${String(seq)} of message ${i} is not -1 or an integer 0 to 2^32-1.`,
  );
}
