/**
 * Message properties the broker reserves (RocketMQ's names where RocketMQ has one), message ids,
 * and the RocketMQ delay levels.
 */

export const P_UNIQ_KEY = 'UNIQ_KEY';
export const P_MESSAGE_GROUP = '__SHARDINGKEY';
export const P_DELIVER_MS = 'TIMER_DELIVER_MS';
export const P_DELAY_LEVEL = 'DELAY';
export const P_REAL_TOPIC = 'REAL_TOPIC';
export const P_REAL_QID = 'REAL_QID';
export const P_TRAN_MSG = 'TRAN_MSG';
export const P_PRODUCER = 'PGROUP';
export const P_PRIORITY = '__PRIORITY';
export const P_ORIGIN_TOPIC = 'DLQ_ORIGIN_TOPIC';
export const P_ORIGIN_MESSAGE_ID = 'ORIGIN_MESSAGE_ID';
export const P_MESSAGE_TYPE = 'MSG_TYPE';

/** Property names users may not set (RocketMQ MessageConst system names plus ours). */
export const RESERVED_PROPERTIES: ReadonlySet<string> = new Set([
  'TAGS',
  'KEYS',
  'WAIT',
  'RETRY_TOPIC',
  'MIN_OFFSET',
  'MAX_OFFSET',
  'BUYER_ID',
  'TRANSFER_FLAG',
  'CORRECTION_FLAG',
  'MQ2_FLAG',
  'RECONSUME_TIME',
  'MSG_REGION',
  'TRACE_ON',
  'MAX_RECONSUME_TIMES',
  'CONSUME_START_TIME',
  'UNIQ_CLIENT_MESSAGE_ID_KEYIDX',
  'TRANSACTION_CHECK_TIMES',
  'CHECK_IMMUNITY_TIME_IN_SECONDS',
  'TIMER_DELAY_SEC',
  'TIMER_DELAY_MS',
  'TIMER_OUT_MS',
  P_UNIQ_KEY,
  P_MESSAGE_GROUP,
  P_DELIVER_MS,
  P_DELAY_LEVEL,
  P_REAL_TOPIC,
  P_REAL_QID,
  P_TRAN_MSG,
  P_PRODUCER,
  P_PRIORITY,
  P_ORIGIN_TOPIC,
  P_ORIGIN_MESSAGE_ID,
  P_MESSAGE_TYPE,
]);

/** RocketMQ's 18 delay levels (level n is DELAY_LEVELS_MS[n-1]). */
export const DELAY_LEVELS_MS: readonly number[] = [
  1_000, 5_000, 10_000, 30_000, 60_000, 120_000, 180_000, 240_000, 300_000, 360_000, 420_000, 480_000,
  540_000, 600_000, 1_200_000, 1_800_000, 3_600_000, 7_200_000,
];

/** RocketMQ's retry ladder: delay levels 3..18 (10s 30s 1m 2m … 30m 1h 2h). */
export const RETRY_BACKOFF_MS: readonly number[] = DELAY_LEVELS_MS.slice(2);

const EPOCH_2021_S = Date.UTC(2021, 0, 1) / 1000;
let sequence = 0;
const pidHex = (process.pid % 65535).toString(16).toUpperCase().padStart(4, '0');
const HEX_CODES = new Uint8Array(16);
for (let i = 0; i < 16; i++) HEX_CODES[i] = '0123456789ABCDEF'.charCodeAt(i);

/** The first 26 characters of the message ids made in one second, as text and ASCII bytes. */
export interface MessageIdPrefix {
  readonly seconds: number;
  readonly text: string;
  readonly bytes: Uint8Array;
}

let current: MessageIdPrefix = { seconds: -1, text: '', bytes: new Uint8Array(0) };

/** The prefix of ids made at `nowMs` (one object per second: a batch may keep it). */
export function messageIdPrefix(nowMs: number): MessageIdPrefix {
  const seconds = Math.max(0, Math.floor(nowMs / 1000 - EPOCH_2021_S)) >>> 0;
  if (seconds !== current.seconds) {
    const text = `01000000000000${pidHex}${seconds.toString(16).toUpperCase().padStart(8, '0')}`;
    current = { seconds, text, bytes: Buffer.from(text, 'latin1') };
  }
  return current;
}

/** The next per-process sequence number (the last 8 hex digits of an id). */
export function nextMessageSequence(): number {
  const seq = sequence;
  sequence = (sequence + 1) >>> 0;
  return seq;
}

/** Each byte value as two hex digits: the last two characters of an id (see messageIdOf). */
const HEX_PAIRS: readonly string[] = Array.from({ length: 256 }, (_, b) =>
  b.toString(16).toUpperCase().padStart(2, '0'),
);
/** All but the last two characters of the ids of `stemPrefix` whose sequence is `stemHigh` << 8 | *. */
let stem = '';
let stemPrefix: MessageIdPrefix | undefined;
let stemHigh = -1;

/**
 * The id of `prefix` and `seq`, as text (what a UniqKeyRun writes as bytes). A batch's receipts
 * make one each: the first 32 characters are shared by 256 consecutive sequence numbers and kept
 * as one flat string, so an id is that string joined to one of 256 constant two-digit strings —
 * a single small allocation.
 */
export function messageIdOf(prefix: MessageIdPrefix, seq: number): string {
  const high = seq >>> 8;
  if (high !== stemHigh || prefix !== stemPrefix) {
    const p = prefix.bytes;
    const h = HEX_CODES;
    // built char by char: a flat string, not a rope each id would share and flatten again
    stem = String.fromCharCode(
      p[0]!,
      p[1]!,
      p[2]!,
      p[3]!,
      p[4]!,
      p[5]!,
      p[6]!,
      p[7]!,
      p[8]!,
      p[9]!,
      p[10]!,
      p[11]!,
      p[12]!,
      p[13]!,
      p[14]!,
      p[15]!,
      p[16]!,
      p[17]!,
      p[18]!,
      p[19]!,
      p[20]!,
      p[21]!,
      p[22]!,
      p[23]!,
      p[24]!,
      p[25]!,
      h[high >>> 20]!,
      h[(high >>> 16) & 15]!,
      h[(high >>> 12) & 15]!,
      h[(high >>> 8) & 15]!,
      h[(high >>> 4) & 15]!,
      h[high & 15]!,
    );
    stemPrefix = prefix;
    stemHigh = high;
  }
  return stem + HEX_PAIRS[seq & 255]!;
}

/**
 * A message id in the layout rocketmq-client-nodejs uses (17 bytes as upper-case hex): version
 * 01, a 6-byte host id (zero), pid mod 65535, seconds since 2021-01-01, a per-process sequence.
 * Made by messageIdOf: a flat stem shared by 256 sequence numbers and two hex digits.
 */
export function newMessageId(nowMs = Date.now()): string {
  return messageIdOf(messageIdPrefix(nowMs), nextMessageSequence());
}
