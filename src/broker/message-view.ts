/**
 * MessageView construction from a stored record, and receipt handles.
 *
 * Receipt handle: `<handleSeq base36>.<queueId>.<queueOffset>.<topic>` — the sequence number is
 * unique per delivery across restarts (it is journaled), so a handle names one delivery of one
 * message; the consumer group comes from the consumer that acks. Treat it as opaque.
 */

import type { MappedSegment } from '../store/mapped-segment.js';
import type { RecordMaker } from '../store/queue-reader.js';
import {
  bodyLengthPosOf,
  type HostAddress,
  OFF_QUEUE_ID,
  OFF_QUEUE_OFFSET,
  OFF_SYS_FLAG,
  readInt64,
  StoredRecord,
  storeTimestampPosOf,
} from '../store/record-codec.js';
import { splitTags } from '../store/tag-filter.js';
import type { StoredMessage } from '../store/types.js';
import { BrokerError } from './errors.js';
import { P_DELIVER_MS, P_MESSAGE_GROUP, P_PRIORITY, P_UNIQ_KEY, RESERVED_PROPERTIES } from './properties.js';
import { compileSqlFilter, type SqlPredicate } from './sql-filter.js';
import type { MessageView } from './types.js';

export interface ParsedHandle {
  seq: number;
  queueId: number;
  offset: number;
  topic: string;
}

export function formatHandle(seq: number, topic: string, queueId: number, offset: number): string {
  return `${seq.toString(36)}.${queueId}.${offset}.${topic}`;
}

/**
 * formatHandle for the messages of one queue: the parts they share ('.<queueId>.' and
 * '.<topic>') are joined once, so a handle costs one string concatenation chain of four
 * parts, not seven (a template literal of short pieces makes a string at every step).
 *
 * A batch of handles (add … seal, then handle(i)) costs less still: their text is written as
 * bytes into a scratch buffer and decoded as ONE string, and each handle is a slice of it (V8
 * makes a slice of 13 characters or more a small sliced string over the batch's text, with no
 * copy and no number-to-string conversion per handle). The batch's text lives as long as any of
 * its handles does (a few KB for a batch of hundreds).
 */
export class HandleFormat {
  private readonly mid: string;
  private readonly tail: string;
  /** Bytes one handle needs at most: 11 base-36 digits, 16 decimal ones, the shared parts. */
  private readonly maxBytes: number;
  private count = 0;
  private text = '';

  constructor(topic: string, queueId: number) {
    this.mid = `.${queueId}.`;
    this.tail = `.${topic}`;
    this.maxBytes = 11 + 16 + this.mid.length + this.tail.length;
  }

  format(seq: number, offset: number): string {
    return seq.toString(36) + this.mid + offset + this.tail;
  }

  /**
   * Add the handle of delivery `seq` of the message at `offset` to the batch. A delivery that
   * follows the last one (next seq, next offset: a run of fresh messages) copies its handle and
   * counts both numbers up in place, instead of writing every digit again.
   */
  add(seq: number, offset: number): void {
    const s = scratch;
    const n = this.count;
    if (n === 0) s.ends[0] = 0;
    const pos = s.ends[n]!;
    if (pos + this.maxBytes > s.bytes.length) growBytes(pos + this.maxBytes);
    if (n + 2 > s.ends.length) growEnds(n + 2);
    const b = s.bytes;
    if (n > 0 && seq === this.lastSeq + 1 && offset === this.lastOffset + 1) {
      const start = s.ends[n - 1]!;
      const len = pos - start;
      // four bytes at a time: a byte loop costs about as much per byte as this per word
      const dv = s.view;
      let i = 0;
      for (; i + 4 <= len; i += 4) dv.setUint32(pos + i, dv.getUint32(start + i, true), true);
      for (; i < len; i++) b[pos + i] = b[start + i]!;
      this.lastSeq = seq;
      this.lastOffset = offset;
      if (
        countUp(b, pos, pos + this.seqDigits, 36) &&
        countUp(b, pos + this.offsetAt, pos + this.offsetEnd, 10)
      ) {
        s.ends[n + 1] = pos + len;
        this.count = n + 1;
        return;
      }
      // a number gained a digit: written out below
    }
    let at = writeDigits(b, pos, seq, 36);
    this.seqDigits = at - pos;
    at = writeAscii(b, at, this.mid);
    this.offsetAt = at - pos;
    at = writeDigits(b, at, offset, 10);
    this.offsetEnd = at - pos;
    at = writeAscii(b, at, this.tail);
    s.ends[n + 1] = at;
    this.lastSeq = seq;
    this.lastOffset = offset;
    this.count = n + 1;
  }

  /** The last handle added: its numbers, and where its offset's digits lie in it. */
  private lastSeq = -1;
  private lastOffset = -1;
  private seqDigits = 0;
  private offsetAt = 0;
  private offsetEnd = 0;

  /** End the batch: its text is decoded once; handle(i) are valid until the next add. */
  seal(): void {
    this.text = this.count === 0 ? '' : scratch.bytes.toString('latin1', 0, scratch.ends[this.count]!);
    this.count = 0;
  }

  /** The i-th handle of the sealed batch. */
  handle(i: number): string {
    return this.text.slice(scratch.ends[i]!, scratch.ends[i + 1]!);
  }
}

/** The bytes (and a DataView of them) and handle ends of the batch being formatted (one at a time: all synchronous). */
const scratch: { bytes: Buffer; view: DataView; ends: Int32Array } = {
  bytes: Buffer.allocUnsafe(16 * 1024),
  view: new DataView(new ArrayBuffer(0)),
  ends: new Int32Array(1025),
};
scratch.view = dataViewOf(scratch.bytes);

function dataViewOf(bytes: Buffer): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
}

function growBytes(atLeast: number): void {
  const bytes = Buffer.allocUnsafe(Math.max(atLeast, scratch.bytes.length * 2));
  scratch.bytes.copy(bytes);
  scratch.bytes = bytes;
  scratch.view = dataViewOf(bytes);
}

function growEnds(atLeast: number): void {
  const ends = new Int32Array(Math.max(atLeast, scratch.ends.length * 2));
  ends.set(scratch.ends);
  scratch.ends = ends;
}

const DIGIT_CODES = new Uint8Array([...'0123456789abcdefghijklmnopqrstuvwxyz'].map((c) => c.charCodeAt(0)));

/** `value` (a non-negative safe integer) in `radix` at `pos`, as Number#toString(radix) writes it. */
function writeDigits(b: Buffer, pos: number, value: number, radix: number): number {
  if (value > 0x7fffffff) return writeBigDigits(b, pos, value, radix);
  // 31-bit integer arithmetic (the common case): no floating-point division or modulo
  let len = 1;
  for (let v = value; v >= radix; len++) v = (v / radix) | 0;
  let v = value | 0;
  for (let i = pos + len - 1; i >= pos; i--) {
    const q = (v / radix) | 0;
    b[i] = DIGIT_CODES[v - q * radix]!;
    v = q;
  }
  return pos + len;
}

/** writeDigits past 2^31: exact in doubles (v - v % radix is a multiple of radix). */
function writeBigDigits(b: Buffer, pos: number, value: number, radix: number): number {
  let len = 1;
  for (let v = value; v >= radix; len++) v = (v - (v % radix)) / radix;
  let v = value;
  for (let i = pos + len - 1; i >= pos; i--) {
    const d = v % radix;
    b[i] = DIGIT_CODES[d]!;
    v = (v - d) / radix;
  }
  return pos + len;
}

/**
 * Add one to the number whose `radix` digits are b[from, to); false when it carries out of
 * the leading digit (the number needs one more digit: write it out instead).
 */
function countUp(b: Buffer, from: number, to: number, radix: number): boolean {
  const top = DIGIT_CODES[radix - 1]!;
  for (let i = to - 1; i >= from; i--) {
    const c = b[i]!;
    if (c !== top) {
      b[i] = c === 57 ? 97 : c + 1; // '9' → 'a' in base 36
      return true;
    }
    b[i] = 48;
  }
  return false;
}

/** An ASCII string's characters at `pos`. */
function writeAscii(b: Buffer, pos: number, text: string): number {
  for (let i = 0; i < text.length; i++) b[pos + i] = text.charCodeAt(i);
  return pos + text.length;
}

const TOPIC_CHARS = /^[%|a-zA-Z0-9_-]+$/;

export function parseHandle(handle: unknown): ParsedHandle {
  if (typeof handle === 'string') {
    const a = handle.indexOf('.');
    const b = handle.indexOf('.', a + 1);
    const c = handle.indexOf('.', b + 1);
    if (a > 0 && b > a + 1 && c > b + 1) {
      const seq = Number.parseInt(handle.slice(0, a), 36);
      const queueId = digits(handle, a + 1, b);
      const offset = digits(handle, b + 1, c);
      const topic = handle.slice(c + 1);
      if (
        Number.isSafeInteger(seq) &&
        seq >= 0 &&
        seq.toString(36) === handle.slice(0, a) &&
        queueId >= 0 &&
        offset >= 0 &&
        TOPIC_CHARS.test(topic)
      )
        return { seq, queueId, offset, topic };
    }
  }
  throw new BrokerError('INVALID_RECEIPT_HANDLE', `receipt handle ${JSON.stringify(handle)} is malformed.`);
}

/** The decimal number in s[from, to), or -1 if it is not one (or not a safe integer). */
function digits(s: string, from: number, to: number): number {
  if (to - from > 15) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** User properties only (reserved system names removed). */
export function userProperties(props: Record<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const name in props) if (!RESERVED_PROPERTIES.has(name)) out.set(name, props[name]!);
  return out;
}

export function messageIdOf(rec: StoredMessage): string {
  return rec.properties[P_UNIQ_KEY] ?? rec.msgId;
}

/** Where a view made straight from the log finds its record (shared by a read's views). */
class RecordSite {
  constructor(
    readonly segment: MappedSegment,
    readonly host: HostAddress,
  ) {}
}

/** A view's record with its user properties, once those were asked for. */
class WithProperties {
  constructor(
    readonly rec: StoredMessage,
    readonly props: Map<string, string>,
  ) {}
}
/**
 * A received message over its stored record. The body is a zero-copy view; everything that
 * needs the properties decoded (message id, tag, keys, user properties …) is computed on first
 * access, so a consumer that reads only the body pays for nothing else. A view made by
 * FreshViews has no record object until one of those is read (only its site and position).
 *
 * Own enumerable properties are the MessageView fields a view carries as data (topic, body,
 * deliveryAttempt, receiptHandle, queueId, offset, storeTimestamp, corrupted, bornHost): a
 * spread copy keeps them. The bookkeeping is in #private fields — not properties, so neither a
 * spread copy nor Object.keys sees it — and kept to four: the hundreds of views of a batch stay
 * in flight until acked, and every scavenge copies them.
 */
class RecordMessageView implements MessageView {
  readonly topic: string;
  readonly body: Buffer;
  readonly deliveryAttempt: number;
  /** Own property (a spread copy of a view keeps it); changeInvisibleDuration replaces it. */
  receiptHandle = '';
  readonly queueId: number;
  readonly offset: number;
  readonly storeTimestamp: number;
  readonly corrupted = false;
  readonly bornHost = '127.0.0.1';
  // (Class fields are defined as undefined before the constructor sets them: offset and
  // storeTimestamp stay tagged fields — a Smi, or a shared heap number — not a double box each.)
  /**
   * The handle this delivery was given, and its sequence number (null: not a delivery's; not a
   * number, so the field holds Smis rather than a heap number box per view). Ordinary fields, not
   * #private ones: a view wrapped in a Proxy (reactive state in a UI framework) must still be
   * readable and ackable, and a #private field is only readable on the instance itself.
   */
  private issued = '';
  private handleSeq: number | null = null;
  /** The record: where it lies (a fresh view, until decoded), or decoded (with its properties). */
  private src: RecordSite | StoredMessage | WithProperties;
  /** The record's position in its site's segment (a fresh view's). */
  private readonly pos: number;

  constructor(
    topic: string,
    body: Buffer,
    deliveryAttempt: number,
    queueId: number,
    offset: number,
    storeTimestamp: number,
    src: RecordSite | StoredMessage,
    pos: number,
  ) {
    this.topic = topic;
    this.body = body;
    this.deliveryAttempt = deliveryAttempt;
    this.queueId = queueId;
    this.offset = offset;
    this.storeTimestamp = storeTimestamp;
    this.src = src;
    this.pos = pos;
  }

  /** Give the view its delivery's handle: sequence number `seq`, text `handle`. */
  issue(seq: number, handle: string): void {
    this.handleSeq = seq < 0 ? null : seq;
    this.receiptHandle = handle;
    this.issued = handle;
  }

  /** The stored record, decoded on first use for a view made from the log. */
  private record(): StoredMessage {
    const src = this.src;
    if (src instanceof RecordSite) {
      const seg = src.segment;
      const pos = this.pos;
      const rec = new StoredRecord(seg.mapping, seg.view, pos, seg.fromOffset + pos, src.host);
      this.src = rec;
      return rec;
    }
    return src instanceof WithProperties ? src.rec : src;
  }

  /** The parts of the handle without parsing it again, while it is still the one it was issued. */
  ownHandle(): ParsedHandle | undefined {
    const seq = this.handleSeq;
    if (seq === null || this.receiptHandle !== this.issued) return undefined;
    return { seq, queueId: this.queueId, offset: this.offset, topic: this.topic };
  }

  /** Like ownHandle, into `out` (no object made); false when the handle is not its own. */
  ownHandleInto(out: ParsedHandle): boolean {
    const seq = this.handleSeq;
    if (seq === null || this.receiptHandle !== this.issued) return false;
    out.seq = seq;
    out.queueId = this.queueId;
    out.offset = this.offset;
    out.topic = this.topic;
    return true;
  }

  get messageId(): string {
    return messageIdOf(this.record());
  }
  get tag(): string | undefined {
    return this.record().tags;
  }
  get keys(): string[] {
    return this.record().keys;
  }
  get messageGroup(): string | undefined {
    return this.record().properties[P_MESSAGE_GROUP];
  }
  get deliveryTimestamp(): Date | undefined {
    const ms = this.record().properties[P_DELIVER_MS];
    return ms === undefined ? undefined : new Date(Number(ms));
  }
  get priority(): number | undefined {
    const p = this.record().properties[P_PRIORITY];
    return p === undefined ? undefined : Number(p);
  }
  get bornTimestamp(): Date {
    return new Date(this.record().bornTimestamp);
  }
  get properties(): Map<string, string> {
    const src = this.src;
    if (src instanceof WithProperties) return src.props;
    const rec = this.record();
    const props = userProperties(rec.properties);
    this.src = new WithProperties(rec, props);
    return props;
  }
}

export type { RecordMessageView as DeliveryView };

function viewOf(rec: StoredMessage, topic: string, deliveryAttempt: number): RecordMessageView {
  return new RecordMessageView(
    topic,
    rec.body,
    deliveryAttempt,
    rec.queueId,
    rec.queueOffset,
    rec.storeTimestamp,
    rec,
    0,
  );
}

/** `handle`: the receipt handle's sequence number, or its text (not a delivery: ''). */
export function toMessageView(
  rec: StoredMessage,
  topic: string,
  deliveryAttempt: number,
  handle: number | string,
): MessageView {
  const view = viewOf(rec, topic, deliveryAttempt);
  if (typeof handle === 'number')
    view.issue(handle, formatHandle(handle, topic, rec.queueId, rec.queueOffset));
  else view.issue(-1, handle);
  return view;
}

/** A view of a delivery of `rec` (attempt `deliveryAttempt`); deliver() issues its handle. */
export function pendingView(rec: StoredMessage, topic: string, deliveryAttempt: number): RecordMessageView {
  return viewOf(rec, topic, deliveryAttempt);
}

/**
 * The Buffer class of a fresh view's body: Node's own (internal) FastBuffer again — a
 * Uint8Array subclass whose instances inherit Buffer.prototype and answer `constructor` with
 * Buffer (so instanceof, Buffer.isBuffer, every Buffer method, subarray/slice and inspect behave
 * as for any Buffer). Made directly, not through Buffer.from (argument checks and a native
 * ArrayBuffer test per call: over half the cost of a view). The read checked the record's
 * magic, size and position, not its body length: a damaged one behaves as with Buffer.from (a
 * negative length gives an empty body, one past the mapping a RangeError).
 */
class BodyBuffer extends Uint8Array {}
Object.setPrototypeOf(BodyBuffer.prototype, Buffer.prototype);
Object.defineProperty(BodyBuffer.prototype, 'constructor', {
  value: Buffer,
  writable: true,
  enumerable: false,
  configurable: true,
});

/**
 * First-delivery views of one topic made straight from the log by QueueReader.readWith: the
 * fields a view carries are read from the record in place, and no StoredRecord is made unless
 * the consumer reads the properties. deliver() issues their handles.
 */
export class FreshViews {
  private site: RecordSite | undefined;
  /**
   * The last store timestamp read, as the number its views hold: the messages of a batch share
   * a few milliseconds, and a time (past 2^31) is a heap number — one per distinct time, not
   * one per view.
   */
  private storeTimestamp: number | undefined = undefined;

  constructor(private readonly topic: string) {}

  readonly make: RecordMaker<RecordMessageView> = (segment, pos, _physicalOffset, host) => {
    let site = this.site;
    if (site === undefined || site.segment !== segment || site.host !== host) {
      site = new RecordSite(segment, host);
      this.site = site;
    }
    const v = segment.view;
    const sysFlag = v.getInt32(pos + OFF_SYS_FLAG, false);
    const timestampPos = storeTimestampPosOf(pos, sysFlag);
    const bodyLengthPos = bodyLengthPosOf(timestampPos, sysFlag);
    const bodyLength = v.getInt32(bodyLengthPos, false);
    // a damaged negative length reads as an empty body, as Buffer.from made it
    const body = new BodyBuffer(
      segment.mapping,
      bodyLengthPos + 4,
      bodyLength > 0 ? bodyLength : 0,
    ) as Buffer;
    const ts = readInt64(v, timestampPos);
    if (ts !== this.storeTimestamp) this.storeTimestamp = ts;
    return new RecordMessageView(
      this.topic,
      body,
      1,
      v.getInt32(pos + OFF_QUEUE_ID, false),
      readInt64(v, pos + OFF_QUEUE_OFFSET),
      this.storeTimestamp!,
      site,
      pos,
    );
  };
}

/**
 * The receipt handle a message carries, parsed: for a view this broker made, straight from its
 * fields (no text built and parsed again); otherwise parsed from `receiptHandle`.
 */
export function handlePartsOf(message: unknown): ParsedHandle {
  if (message instanceof RecordMessageView) {
    const own = message.ownHandle();
    if (own !== undefined) return own;
  }
  if (!message || typeof message !== 'object') {
    throw new BrokerError('INVALID_RECEIPT_HANDLE', 'expected a MessageView with a receiptHandle.');
  }
  const handle = (message as { receiptHandle?: unknown }).receiptHandle;
  if (typeof handle !== 'string') {
    throw new BrokerError('INVALID_RECEIPT_HANDLE', 'expected a MessageView with a receiptHandle.');
  }
  return parseHandle(handle);
}

/** handlePartsOf into `out`: a view this broker made fills it without allocating. */
export function readHandleParts(message: unknown, out: ParsedHandle): void {
  if (message instanceof RecordMessageView && message.ownHandleInto(out)) return;
  const h = typeof message === 'string' ? parseHandle(message) : handlePartsOf(message);
  out.seq = h.seq;
  out.queueId = h.queueId;
  out.offset = h.offset;
  out.topic = h.topic;
}

/** A subscription's filter: a tag set (undefined: everything), or a compiled SQL92 predicate. */
export function parseSubscriptionFilter(expression: unknown): {
  filter: Set<string> | undefined;
  sql?: SqlPredicate;
} {
  const filterType =
    expression && typeof expression === 'object'
      ? (expression as { filterType?: unknown }).filterType
      : undefined;
  if (filterType === 'SQL92') {
    return { filter: undefined, sql: compileSqlFilter((expression as { expression: string }).expression) };
  }
  return { filter: parseFilter(expression) };
}

/** A tag filter: undefined matches everything. */
export function parseFilter(expression: unknown): Set<string> | undefined {
  const text =
    typeof expression === 'string'
      ? expression
      : expression && typeof expression === 'object' && 'expression' in expression
        ? (expression as { expression: unknown }).expression
        : undefined;
  if (typeof text !== 'string') {
    throw new BrokerError(
      'ILLEGAL_FILTER_EXPRESSION',
      `filter ${JSON.stringify(expression)} is not a string.`,
    );
  }
  const filterType = (expression as { filterType?: unknown }).filterType;
  if (filterType !== undefined && filterType !== 'TAG') {
    throw new BrokerError(
      'ILLEGAL_FILTER_EXPRESSION',
      `filterType must be TAG or SQL92, got ${String(filterType)}.`,
    );
  }
  const tags = splitTags(text);
  if (tags === undefined) return undefined;
  if (tags.size === 0)
    throw new BrokerError('ILLEGAL_FILTER_EXPRESSION', `filter ${JSON.stringify(text)} is empty.`);
  return tags;
}
