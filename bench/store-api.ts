/**
 * The bench's view of the MessageStore facade, loaded at run time so the harness builds and runs
 * (reporting "not available") before the store has landed. The shapes come from
 * src/store/types.ts, so a changed field still fails the typecheck.
 */
import type { AppendResult, Message, StoredMessage, StoreOptions, StoreStats } from '../src/store/types.js';

export type { AppendResult, Message, StoredMessage, StoreOptions, StoreStats };

export interface BenchStore {
  append(msg: Message): AppendResult;
  appendBatch?(msgs: Message[]): unknown;
  put(msg: Message): Promise<AppendResult>;
  flush(): Promise<void>;
  get(physicalOffset: number): StoredMessage | undefined;
  scan(fromOffset?: number, max?: number): Iterable<StoredMessage>;
  stats(): StoreStats;
  close(): Promise<void>;
  /** Issue 3: consume-queue reads. */
  read?(topic: string, queueId: number, offset: number, max: number): unknown;
  /** Issue 3: key index. */
  queryByKey?(topic: string, key: string): unknown;
}

interface StoreModule {
  MessageStore?: { open(dir: string, options?: StoreOptions): Promise<BenchStore> };
}

/** Opens a store, or returns the reason it cannot (the facade is not built yet). */
export async function openStore(dir: string, options?: StoreOptions): Promise<BenchStore | string> {
  // A computed specifier: the facade may not exist in this checkout yet.
  const specifier = new URL('../src/index.js', import.meta.url).href;
  let mod: StoreModule;
  try {
    mod = (await import(specifier)) as StoreModule;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      return 'MessageStore is not available yet (src/index.ts has not landed)';
    }
    throw err;
  }
  if (mod.MessageStore === undefined) return 'src/index.ts does not export MessageStore yet';
  return mod.MessageStore.open(dir, options);
}

/** Topic every bench message goes to. */
export const benchTopic = 'bench';

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
