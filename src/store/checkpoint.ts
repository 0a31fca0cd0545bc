/**
 * The `checkpoint` file: one 4 KiB page, mapped.
 *
 * ```
 *  offset  size  field (big-endian)
 *  0       8     physicMsgTimestamp   store time of the last flushed commit log record (RocketMQ)
 *  8       8     logicsMsgTimestamp   store time covered by flushed consume queues (RocketMQ)
 *  16      8     indexMsgTimestamp    end time of the last fully flushed index file (RocketMQ)
 *  24      8     masterFlushedOffset  (RocketMQ HA; 0)
 *  32      8     confirmPhyOffset     (RocketMQ controller mode; 0)
 *  64      4     tidemq magic 0x54444D51 ("TDMQ")
 *  68      4     tidemq checkpoint version (1)
 *  72      8     flushedOffset        every commit log byte before it is on disk
 *  80      8     cleanEndOffset       end of the log at a clean close; -1 while the store is open
 *  88      8     minOffset            first retained commit log offset
 *  96      8     dispatchedOffset     consume queue and index entries of every record before it are on disk
 *  104     8     segmentBytes         commit log segment size the store was created with (0: not recorded)
 * ```
 * The first 40 bytes are RocketMQ's, so a RocketMQ broker can read the file. The rest of the page
 * is ours. The page is updated in memory after every flush and forced to disk at most once a
 * second and at close; a stale page on disk only makes recovery start earlier, never later,
 * because flushedOffset is written only after the data it covers is on disk.
 */

import { existsSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';
import { MapFlags, native } from '../native.js';
import { readInt64, writeInt64 } from './record-codec.js';

export const CHECKPOINT_BYTES = 4096;
const TIDEMQ_MAGIC = 0x54444d51;
const VERSION = 1;

export interface CheckpointState {
  physicMsgTimestamp: number;
  logicsMsgTimestamp: number;
  indexMsgTimestamp: number;
  /** Ours: undefined when the file has no tidemq part (written by RocketMQ, or new). */
  flushedOffset: number | undefined;
  cleanEndOffset: number | undefined;
  minOffset: number | undefined;
  dispatchedOffset: number | undefined;
  /** Segment size recorded at open; undefined for stores that predate the field or are RocketMQ's. */
  segmentBytes: number | undefined;
}

export class Checkpoint {
  private readonly mapping: ArrayBuffer;
  private readonly view: DataView;
  private dirty = false;

  private constructor(mapping: ArrayBuffer) {
    this.mapping = mapping;
    this.view = new DataView(mapping);
  }

  static open(storeDir: string): Checkpoint {
    const file = path.join(storeDir, 'checkpoint');
    if (existsSync(file) && statSync(file).size === CHECKPOINT_BYTES) {
      return new Checkpoint(native.mapFile(file, CHECKPOINT_BYTES, 0));
    }
    if (existsSync(file)) {
      // A short or foreign-sized checkpoint is only a hint: keep it aside and start a new one.
      renameSync(file, `${file}.bak`);
    }
    return new Checkpoint(native.mapFile(file, CHECKPOINT_BYTES, MapFlags.create));
  }

  read(): CheckpointState {
    const v = this.view;
    const ours = v.getUint32(64, false) === TIDEMQ_MAGIC && v.getUint32(68, false) === VERSION;
    const clean = ours ? readInt64(v, 80) : -1;
    return {
      physicMsgTimestamp: readInt64(v, 0),
      logicsMsgTimestamp: readInt64(v, 8),
      indexMsgTimestamp: readInt64(v, 16),
      flushedOffset: ours ? readInt64(v, 72) : undefined,
      cleanEndOffset: ours && clean >= 0 ? clean : undefined,
      minOffset: ours ? readInt64(v, 88) : undefined,
      dispatchedOffset: ours ? readInt64(v, 96) : undefined,
      segmentBytes: ours && readInt64(v, 104) > 0 ? readInt64(v, 104) : undefined,
    };
  }

  /** After a successful commit log flush. */
  noteFlushed(flushedOffset: number, physicMsgTimestamp: number): void {
    const v = this.view;
    writeInt64(v, 0, physicMsgTimestamp);
    v.setUint32(64, TIDEMQ_MAGIC, false);
    v.setUint32(68, VERSION, false);
    writeInt64(v, 72, flushedOffset);
    this.dirty = true;
  }

  /** After the consume queues and index were forced to disk covering records before `offset`. */
  noteDispatched(offset: number, logicsMsgTimestamp: number): void {
    writeInt64(this.view, 8, logicsMsgTimestamp);
    writeInt64(this.view, 96, offset);
    this.dirty = true;
  }

  /** Record the segment size, so a later open with another size is refused instead of resizing. */
  noteSegmentBytes(segmentBytes: number): void {
    writeInt64(this.view, 104, segmentBytes);
    this.dirty = true;
  }

  noteMinOffset(minOffset: number): void {
    writeInt64(this.view, 88, minOffset);
    this.dirty = true;
  }

  /** Mark the store open (cleanEndOffset -1) or cleanly closed at `end`. Forces the page. */
  markClean(end: number | undefined): void {
    const v = this.view;
    v.setUint32(64, TIDEMQ_MAGIC, false);
    v.setUint32(68, VERSION, false);
    writeInt64(v, 80, end === undefined ? -1 : end);
    this.dirty = true;
    this.forceSync();
  }

  /** Force the page to disk if it changed (at most once a second from the store's timer). */
  async force(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    await native.flush(this.mapping, 0, CHECKPOINT_BYTES);
  }

  forceSync(): void {
    this.dirty = false;
    native.flushSync(this.mapping, 0, CHECKPOINT_BYTES);
  }
}
