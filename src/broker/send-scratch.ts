/**
 * The producer's per-send working state (producer.ts): what prepare() notes per message — what
 * its receipt will say — and the pooled records a batch is appended from; and a written batch's
 * receipts, kept compact until its durability wait is over (receipt objects made earlier would
 * survive young-generation collections while the wait lasts).
 */
import type { Message } from '../store/types.js';
import { type MessageIdPrefix, messageIdOf } from './properties.js';
import type { SendReceipt, TopicInfo } from './types.js';

/**
 * What prepare() notes per message of the batch (or the send) being prepared — what its receipt
 * will say — and the batch's pooled records.
 */
export class SendScratch {
  readonly ids: string[] = [];
  /** A batch's generated ids as sequence numbers of `prefix` (ids[i] is '' then), else -1. */
  readonly seqs: number[] = [];
  readonly topics: string[] = [];
  readonly queueIds: number[] = [];
  /** Due time of a timed message, else 0. */
  readonly dueAt: number[] = [];
  readonly records: Message[] = [];
  /** Prefix of a batch's generated ids; undefined for send() (its id is made as a string). */
  prefix: MessageIdPrefix | undefined;
  /**
   * The topic resolved last in this batch: its messages mostly share one, resolved once (one
   * batch is prepared synchronously; the cache is cleared when the scratch is taken).
   */
  topicName: string | undefined;
  topicInfo: TopicInfo | undefined;
}

/** A record with every field a producer sets, so all records share one shape. */
export function emptyRecord(): Message {
  return {
    topic: '',
    queueId: 0,
    body: '',
    properties: undefined,
    uniqKey: undefined,
    bornTimestamp: 0,
    tags: undefined,
    keys: undefined,
  };
}

/** Drop a pooled record's references to a sent message's body, id and properties. */
export function releaseRecord(r: Message): void {
  r.body = '';
  r.properties = undefined;
  r.uniqKey = undefined;
  r.tags = undefined;
  r.keys = undefined;
}

/** releaseRecord for the first `count` pooled records (those a batch may have filled). */
export function releaseRecords(records: Message[], count: number): void {
  const n = Math.min(count, records.length);
  for (let i = 0; i < n; i++) releaseRecord(records[i]!);
}

/** Made with `new`, not as an object literal: see deferred.ts (receipts were the case found). */
class Receipt implements SendReceipt {
  constructor(
    readonly messageId: string,
    readonly transactionId: string,
    readonly recallHandle: string,
    readonly topic: string,
    readonly queueId: number,
    readonly offset: number,
  ) {}
}

export function receipt(
  messageId: string,
  transactionId: string,
  recallHandle: string,
  topic: string,
  queueId: number,
  offset: number,
): SendReceipt {
  return new Receipt(messageId, transactionId, recallHandle, topic, queueId, offset);
}

/** A written batch's receipts, compact until its durability wait is over. */
export class PendingReceipts {
  constructor(
    private readonly prefix: MessageIdPrefix,
    /** Message i's id has sequence number firstSeq + i (mod 2^32), unless `seqs` is given. */
    private readonly firstSeq: number,
    /** Generated ids by sequence number (see UniqKeyRun), -1 where `ids` has the id. */
    private readonly seqs: Float64Array | undefined,
    private readonly ids: string[] | undefined,
    /** The topic of every message, unless `topics` gives one each. */
    private readonly topic: string,
    private readonly topics: string[] | undefined,
    private readonly queueIds: Int32Array,
    private readonly queueOffsets: Float64Array,
    /** Timed messages' recall handles ('' for the others), if the batch has any. */
    private readonly recallHandles: string[] | undefined,
    readonly endOffset: number,
  ) {}

  receipts(): SendReceipt[] {
    const n = this.queueIds.length;
    const out: SendReceipt[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const seq = this.seqs === undefined ? (this.firstSeq + i) >>> 0 : this.seqs[i]!;
      out[i] = receipt(
        seq >= 0 ? messageIdOf(this.prefix, seq) : this.ids![i]!,
        '',
        this.recallHandles === undefined ? '' : this.recallHandles[i]!,
        this.topics === undefined ? this.topic : this.topics[i]!,
        this.queueIds[i]!,
        this.queueOffsets[i]!,
      );
    }
    return out;
  }
}
