/** Deterministic test messages: a child process and its parent can both rebuild any of them. */
import type { Message } from '../../src/store/types.js';
import { Rng } from './rng.js';

/**
 * The body of crash-test put number `seq` of round `round`: an ASCII header naming them, then
 * up to maxFillerBytes non-zero bytes derived from (round, seq). Non-zero so that zeroing any
 * byte of a body always breaks its CRC.
 */
export function crashBody(round: number, seq: number, maxFillerBytes: number): Buffer {
  const rng = new Rng((Math.imul(round + 1, 1_000_003) + seq) >>> 0);
  const head = Buffer.from(`r${round}s${seq}:`, 'latin1');
  return Buffer.concat([head, rng.nonZeroBytes(rng.int(maxFillerBytes + 1))]);
}

/** (round, seq) of a crash body, or undefined if the body is not one. */
export function parseCrashBody(body: Uint8Array): { round: number; seq: number } | undefined {
  const head = Buffer.from(body.buffer, body.byteOffset, Math.min(body.byteLength, 32)).toString('latin1');
  const match = /^r(\d+)s(\d+):/.exec(head);
  if (!match) return undefined;
  return { round: Number(match[1]), seq: Number(match[2]) };
}

export const CRASH_TOPIC = 'crash-test';
export const CRASH_QUEUES = 4;

export function crashMessage(round: number, seq: number, maxFillerBytes: number): Message {
  return {
    topic: CRASH_TOPIC,
    queueId: seq % CRASH_QUEUES,
    tags: `T${seq % 3}`,
    keys: [`k${round}-${seq}`],
    body: crashBody(round, seq, maxFillerBytes),
  };
}

/** Message number `index` of a deterministic sequence: a few topics and queues, varied sizes. */
export function sampleMessage(seed: number, index: number): Message {
  const rng = new Rng((Math.imul(seed + 1, 2_654_435_761) + index) >>> 0);
  return {
    topic: index % 4 === 3 ? 'sample_B' : 'sample-A',
    queueId: index % 3,
    tags: `tag${index % 5}`,
    keys: [`key-${index}`, `alt${rng.int(1000)}`],
    properties: { idx: String(index), note: 'n'.repeat(rng.int(20)) },
    body: rng.nonZeroBytes(rng.range(40, 1500)),
  };
}

/** Body of a message as the bytes the store must hold. */
export function bodyBytes(message: Message): Buffer {
  return typeof message.body === 'string'
    ? Buffer.from(message.body, 'utf8')
    : Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
}

/** Body of disk-full test message i: 8 KiB naming i, so a parent can check any of them. */
export function diskFullBody(i: number): Buffer {
  const body = Buffer.alloc(8 * 1024, (i % 251) + 1);
  body.write(`disk-full ${i};`, 0, 'latin1');
  return body;
}
