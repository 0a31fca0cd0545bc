/** The bench's view of the MessageStore facade, plus the methods issue 3 will add. */
import { MessageStore } from '../src/index.js';
import type { StoredRecord } from '../src/store/record-codec.js';
import type { Message, StoreOptions } from '../src/store/types.js';

export type { Message, StoredRecord };

/** A batch append may land later; until then a batch is a loop of append(). */
export type BenchStore = MessageStore & { appendBatch?: (msgs: Message[]) => unknown };

export async function openStore(dir: string, options?: StoreOptions): Promise<BenchStore> {
  return MessageStore.open(dir, options);
}

/** Topic every bench message goes to. */
export const benchTopic = 'bench';

/** UNIQ_KEY=<34 hex digits> with its separators: the property every broker message carries. */
export const UNIQ_KEY_PROPERTY_BYTES = 44;

/**
 * Size of a RocketMQ commit log record (header included) for a body of `bodyBytes` with the
 * bench's topic and no properties: 91 fixed header bytes with IPv4 hosts, then body, topic and
 * properties. The tidemq scenarios check this against AppendResult.size, so the memcpy ceiling
 * copies records of exactly the size tidemq writes.
 */
export function recordBytesFor(bodyBytes: number, topic = benchTopic, propertiesBytes = 0): number {
  return 91 + bodyBytes + Buffer.byteLength(topic) + propertiesBytes;
}

/** A deterministic, incompressible-looking body. */
export function makeBody(bytes: number, seed = 1): Buffer {
  const body = Buffer.allocUnsafe(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    body[i] = x & 0xff;
  }
  return body;
}
