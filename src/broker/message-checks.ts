/**
 * What a producer checks of a message before anything is written (producer.ts): body, tag, keys,
 * message group and properties, delivery time, and the message type these make. Each failure is
 * a BrokerError with the code RocketMQ 5 gives it.
 */
// Buffer from its module: the global `Buffer` is an accessor (~8 ns a read in a hot loop).
import { Buffer } from 'node:buffer';
import { BrokerError } from './errors.js';
import { DELAY_LEVELS_MS, RESERVED_PROPERTIES } from './properties.js';
import type { MessageType, SendMessage } from './types.js';

const MAX_PROPERTIES = 128;
const MAX_PROPERTIES_BYTES = 16 * 1024;
/** Control characters: refused in tags, keys, groups, property names and values, message ids. */
export const CONTROL = /[\u0000-\u001f\u007f]/;

export function checkBody(body: unknown, maxBytes: number): Buffer {
  let buf: Buffer;
  if (Buffer.isBuffer(body)) buf = body;
  else if (typeof body === 'string') buf = Buffer.from(body, 'utf8');
  else if (body instanceof Uint8Array) buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  else throw new BrokerError('BAD_REQUEST', 'body must be a Buffer, Uint8Array or string.');
  if (buf.length === 0) throw new BrokerError('MESSAGE_BODY_EMPTY', 'the message body is empty.');
  if (buf.length > maxBytes) {
    throw new BrokerError(
      'MESSAGE_BODY_TOO_LARGE',
      `the body has ${buf.length} bytes; the limit is ${maxBytes}.`,
    );
  }
  return buf;
}

/** Validate tag, keys, group and properties; a copy of the properties (undefined when none). */
export function checkProperties(msg: SendMessage): Record<string, string> | undefined {
  if (
    msg.tag === undefined &&
    msg.keys === undefined &&
    msg.messageGroup === undefined &&
    msg.properties === undefined
  ) {
    return undefined;
  }
  if (msg.tag !== undefined) {
    if (
      typeof msg.tag !== 'string' ||
      msg.tag.trim().length === 0 ||
      msg.tag.includes('|') ||
      CONTROL.test(msg.tag)
    ) {
      throw new BrokerError(
        'ILLEGAL_MESSAGE_TAG',
        `tag ${JSON.stringify(msg.tag)} is not valid: non-blank, no '|', no control characters.`,
      );
    }
  }
  let total = msg.tag?.length ?? 0;
  if (msg.keys !== undefined) {
    if (!Array.isArray(msg.keys))
      throw new BrokerError('ILLEGAL_MESSAGE_KEY', 'keys must be an array of strings.');
    for (const k of msg.keys) {
      if (typeof k !== 'string' || k.trim().length === 0 || /\s/.test(k) || CONTROL.test(k)) {
        throw new BrokerError(
          'ILLEGAL_MESSAGE_KEY',
          `key ${JSON.stringify(k)} is not valid: non-blank, no spaces or control characters.`,
        );
      }
      total += k.length;
    }
  }
  if (msg.messageGroup !== undefined) {
    const g = msg.messageGroup;
    if (typeof g !== 'string' || g.trim().length === 0 || Buffer.byteLength(g) >= 64 || CONTROL.test(g)) {
      throw new BrokerError(
        'ILLEGAL_MESSAGE_GROUP',
        `message group ${JSON.stringify(g)} is not valid: non-blank, under 64 bytes.`,
      );
    }
  }
  const entries: [unknown, unknown][] =
    msg.properties === undefined
      ? []
      : msg.properties instanceof Map
        ? [...msg.properties.entries()]
        : typeof msg.properties === 'object' && msg.properties !== null
          ? Object.entries(msg.properties)
          : (() => {
              throw new BrokerError('BAD_REQUEST', 'properties must be a Map or an object of strings.');
            })();
  if (entries.length > MAX_PROPERTIES) {
    throw new BrokerError(
      'MESSAGE_PROPERTIES_TOO_LARGE',
      `${entries.length} properties; at most ${MAX_PROPERTIES}.`,
    );
  }
  const out: Record<string, string> | undefined = entries.length > 0 ? {} : undefined;
  for (const [name, value] of entries) {
    if (
      typeof name !== 'string' ||
      name.length === 0 ||
      CONTROL.test(name) ||
      RESERVED_PROPERTIES.has(name)
    ) {
      throw new BrokerError(
        'ILLEGAL_MESSAGE_PROPERTY_KEY',
        `property name ${JSON.stringify(name)} is reserved or not valid.`,
      );
    }
    if (typeof value !== 'string' || CONTROL.test(value)) {
      throw new BrokerError(
        'ILLEGAL_MESSAGE_PROPERTY_KEY',
        `property ${name} must be a string without control characters.`,
      );
    }
    out![name] = value;
    total += name.length + value.length;
  }
  if (total > MAX_PROPERTIES_BYTES) {
    throw new BrokerError(
      'MESSAGE_PROPERTIES_TOO_LARGE',
      `tag, keys and properties take ${total} characters; at most ${MAX_PROPERTIES_BYTES}.`,
    );
  }
  return out;
}

export function deliveryTime(msg: SendMessage, now: number, maxDelayMs: number): number | undefined {
  if (msg.delay === undefined && msg.deliveryTimestamp === undefined && msg.delayLevel === undefined) {
    return undefined;
  }
  const given = [msg.delay, msg.deliveryTimestamp, msg.delayLevel].filter((x) => x !== undefined).length;
  if (given > 1)
    throw new BrokerError(
      'ILLEGAL_DELIVERY_TIME',
      'give only one of delay, deliveryTimestamp and delayLevel.',
    );
  let at: number;
  if (msg.delay !== undefined) {
    if (typeof msg.delay !== 'number' || !Number.isFinite(msg.delay) || msg.delay < 0) {
      throw new BrokerError(
        'ILLEGAL_DELIVERY_TIME',
        `delay must be a non-negative number of ms, got ${String(msg.delay)}.`,
      );
    }
    at = now + msg.delay;
  } else if (msg.delayLevel !== undefined) {
    const l = msg.delayLevel;
    if (!Number.isInteger(l) || l < 1 || l > DELAY_LEVELS_MS.length) {
      throw new BrokerError(
        'ILLEGAL_DELIVERY_TIME',
        `delayLevel must be 1..${DELAY_LEVELS_MS.length}, got ${String(l)}.`,
      );
    }
    at = now + DELAY_LEVELS_MS[l - 1]!;
  } else {
    const t = msg.deliveryTimestamp;
    at = t instanceof Date ? t.getTime() : Number(t);
    if (!Number.isFinite(at))
      throw new BrokerError('ILLEGAL_DELIVERY_TIME', 'deliveryTimestamp is not a valid time.');
  }
  if (at - now > maxDelayMs) {
    throw new BrokerError(
      'ILLEGAL_DELIVERY_TIME',
      `delivery is ${at - now} ms away; the maximum is ${maxDelayMs} ms.`,
    );
  }
  return Math.round(at);
}

export function messageType(msg: SendMessage, timed: boolean, transactional: boolean): MessageType {
  if (!transactional && !timed && msg.messageGroup === undefined && msg.priority === undefined)
    return 'NORMAL';
  const kinds: MessageType[] = [];
  if (transactional) kinds.push('TRANSACTION');
  if (msg.messageGroup !== undefined) kinds.push('FIFO');
  if (timed) kinds.push('DELAY');
  if (msg.priority !== undefined) kinds.push('PRIORITY');
  if (kinds.length > 1) {
    throw new BrokerError('MESSAGE_TYPE_MISMATCH', `a message can be only one of ${kinds.join(', ')}.`);
  }
  return kinds[0] ?? 'NORMAL';
}
