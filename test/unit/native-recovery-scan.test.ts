import { readFileSync } from 'node:fs';
import t from 'tap';
import { native, ScanSlot, ScanStop } from '../../src/native.js';
import { rocketmqSegmentPath, seededRandom, testSeed } from '../helpers/native-env.js';

const BLANK = 0xcbd43194;
const segment = readFileSync(rocketmqSegmentPath);

/** An ArrayBuffer holding exactly these bytes (no pool slack around them). */
function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  const ab = new ArrayBuffer(bytes.length);
  new Uint8Array(ab).set(bytes);
  return ab;
}

interface Scan {
  endPosition: number;
  records: number;
  stop: number;
  first: number;
  last: number;
}

function scan(bytes: Uint8Array | ArrayBuffer, start = 0, end?: number, from = 0, checkCrc = true): Scan {
  const ab = bytes instanceof ArrayBuffer ? bytes : arrayBufferOf(bytes);
  const out = new Float64Array(8);
  const ret = native.scanRecords(ab, start, end ?? ab.byteLength, from, checkCrc, out);
  if (ret !== out[ScanSlot.endPosition]) throw new Error('return value differs from the endPosition slot');
  return {
    endPosition: out[ScanSlot.endPosition]!,
    records: out[ScanSlot.records]!,
    stop: out[ScanSlot.stop]!,
    first: out[ScanSlot.firstStoreTimestamp]!,
    last: out[ScanSlot.lastStoreTimestamp]!,
  };
}

/** Record starts found by following totalSize (test-side reading of the same format, IPv4 hosts). */
function recordPositions(buf: Buffer): number[] {
  const positions: number[] = [];
  let pos = 0;
  while (pos + 8 <= buf.length && buf.readUInt32BE(pos + 4) !== BLANK) {
    positions.push(pos);
    pos += buf.readInt32BE(pos);
  }
  return positions;
}
const positions = recordPositions(segment);
const blankPosition = (() => {
  const lastPos = positions[positions.length - 1]!;
  return lastPos + segment.readInt32BE(lastPos);
})();
const storeTimestamp = (pos: number) => Number(segment.readBigInt64BE(pos + 56));
const bodyOffset = (pos: number) => pos + 88; // IPv4 hosts: bodyLength at 84, body at 88

t.test('recovery-scan: reads the real RocketMQ 4.x segment to its BLANK marker', async (t) => {
  t.equal(positions.length, 47, 'the fixture holds 47 records');
  t.equal(segment.readUInt32BE(blankPosition + 4), BLANK);
  t.equal(segment.readUInt32BE(blankPosition), segment.length - blankPosition, 'BLANK size = rest of file');
  const r = scan(segment);
  t.same(r, {
    endPosition: blankPosition,
    records: 47,
    stop: ScanStop.blank,
    first: storeTimestamp(0),
    last: storeTimestamp(positions[46]!),
  });
  t.ok(r.first > 1.5e12 && r.first <= r.last, 'plausible millisecond timestamps');
  t.same(scan(segment, 0, undefined, 0, false).records, 47, 'same without CRC checks');
});

t.test('recovery-scan: resumes from a record boundary with the matching physical offset', async (t) => {
  const r = scan(segment, positions[20]!);
  t.equal(r.records, 27);
  t.equal(r.stop, ScanStop.blank);
  t.equal(r.first, storeTimestamp(positions[20]!));
  // Same bytes presented as the segment starting at physical offset 8192.
  const s = scan(segment, 0, undefined, 8192);
  t.same([s.stop, s.endPosition, s.records], [ScanStop.offsetMismatch, 0, 0]);
});

t.test('recovery-scan: a flipped body byte stops at that record with crcMismatch', async (t) => {
  const k = 17;
  const copy = Buffer.from(segment);
  copy[bodyOffset(positions[k]!) + 3]! ^= 0x40;
  t.same(
    [scan(copy).stop, scan(copy).endPosition, scan(copy).records],
    [ScanStop.crcMismatch, positions[k], k],
  );
  t.equal(scan(copy, 0, undefined, 0, false).records, 47, 'without checkCrc the flip goes unnoticed');
});

t.test('recovery-scan: torn and damaged records stop the scan at their position', async (t) => {
  const k = 30;
  const at = positions[k]!;

  const truncated = scan(segment, 0, at + 50);
  t.same(
    [truncated.stop, truncated.endPosition, truncated.records],
    [ScanStop.badSize, at, k],
    'cut mid-record',
  );
  const cutAtBoundary = scan(segment, 0, at);
  t.same([cutAtBoundary.stop, cutAtBoundary.endPosition], [ScanStop.end, at], 'cut at a boundary');
  const threeBytes = scan(segment, 0, at + 3);
  t.same([threeBytes.stop, threeBytes.endPosition], [ScanStop.end, at], 'fewer than 4 bytes left');

  const zeroed = Buffer.from(segment);
  zeroed.fill(0, at);
  t.same([scan(zeroed).stop, scan(zeroed).endPosition, scan(zeroed).records], [ScanStop.end, at, k]);

  const badMagic = Buffer.from(segment);
  badMagic.writeUInt32BE(0xdeadbeef, at + 4);
  t.same([scan(badMagic).stop, scan(badMagic).endPosition], [ScanStop.badMagic, at]);

  const tooSmall = Buffer.from(segment);
  tooSmall.writeInt32BE(90, at);
  t.same([scan(tooSmall).stop, scan(tooSmall).endPosition], [ScanStop.badSize, at]);
  const negative = Buffer.from(segment);
  negative.writeInt32BE(-200, at);
  t.equal(scan(negative).stop, ScanStop.badSize);

  const longBody = Buffer.from(segment);
  longBody.writeInt32BE(longBody.readInt32BE(at + 84) + 1, at + 84);
  t.same([scan(longBody).stop, scan(longBody).endPosition], [ScanStop.lengthMismatch, at], 'bodyLength');
  const hugeBody = Buffer.from(segment);
  hugeBody.writeInt32BE(0x7fffffff, at + 84);
  t.equal(scan(hugeBody).stop, ScanStop.lengthMismatch, 'bodyLength past totalSize');
  const negativeBody = Buffer.from(segment);
  negativeBody.writeInt32BE(-1, at + 84);
  t.equal(scan(negativeBody).stop, ScanStop.lengthMismatch, 'negative bodyLength');

  const v6 = Buffer.from(segment);
  v6.writeUInt32BE(v6.readUInt32BE(at + 36) | 0x10, at + 36);
  t.equal(scan(v6).stop, ScanStop.lengthMismatch, 'an IPv6 bornHost flag shifts the layout');

  const wrongOffset = Buffer.from(segment);
  wrongOffset.writeBigInt64BE(BigInt(at + 1), at + 28);
  t.same([scan(wrongOffset).stop, scan(wrongOffset).endPosition], [ScanStop.offsetMismatch, at]);
});

t.test('recovery-scan: arguments are checked', async (t) => {
  const ab = arrayBufferOf(segment);
  t.throws(() => native.scanRecords(ab, 0, ab.byteLength, 0, true, new Float64Array(7)), RangeError);
  t.throws(
    () => native.scanRecords(ab, 0, 10, 0, true, new Uint32Array(8) as unknown as Float64Array),
    TypeError,
  );
  t.throws(() => native.scanRecords(ab, 10, 5, 0, true, new Float64Array(8)), RangeError);
  t.throws(() => native.scanRecords(ab, 0, ab.byteLength + 1, 0, true, new Float64Array(8)), RangeError);
  t.equal(native.scanRecords(ab, 5, 5, 0, true, new Float64Array(8)), 5, 'an empty range ends at once');
});

t.test('recovery-scan: random garbage and mutations never escape [start, end)', async (t) => {
  const seed = testSeed();
  t.comment(`seed ${seed} (replay with TIDEMQ_SEED=${seed})`);
  const rand = seededRandom(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const stops = new Set<number>();
  for (let iter = 0; iter < 400; iter++) {
    let bytes: Buffer;
    if (iter % 2 === 0) {
      // Mutations of the real segment: a few random bytes, sometimes inside headers.
      bytes = Buffer.from(segment);
      for (let m = 1 + int(8); m > 0; m--) bytes[int(bytes.length)] = int(256);
      if (rand() < 0.5) {
        const at = positions[int(positions.length)]!;
        bytes.writeInt32BE(int(0x7fffffff) * (rand() < 0.2 ? -1 : 1), at + [0, 84, 36][int(3)]!);
      }
    } else {
      // Pure garbage, sometimes with plausible magic and sizes planted.
      bytes = Buffer.alloc(1 + int(4096));
      for (let i = 0; i < bytes.length; i++) bytes[i] = int(256);
      for (let p = 0; p + 8 <= bytes.length && rand() < 0.7; p += 91 + int(200)) {
        bytes.writeInt32BE(91 + int(300), p);
        bytes.writeUInt32BE([0xdaa320a7, 0xdaa320ab, BLANK][int(3)]!, p + 4);
      }
    }
    const start = int(bytes.length + 1);
    const end = start + int(bytes.length - start + 1);
    const checkCrc = rand() < 0.5;
    const r = scan(bytes, start, end, 0, checkCrc);
    stops.add(r.stop);
    if (r.endPosition < start || r.endPosition > end || !(r.stop >= 0 && r.stop <= 6)) {
      t.fail(`iteration ${iter}: endPosition ${r.endPosition} outside [${start}, ${end}] stop ${r.stop}`);
      return;
    }
    // Bytes past `end` must not change the outcome (they are never read).
    const altered = Buffer.from(bytes);
    for (let i = end; i < altered.length; i++) altered[i] = altered[i]! ^ 0xff;
    const again = scan(altered, start, end, 0, checkCrc);
    if (JSON.stringify(again) !== JSON.stringify(r)) {
      t.fail(`iteration ${iter}: bytes after end changed the result`);
      return;
    }
  }
  t.pass(`400 scans within bounds; stops seen: ${[...stops].sort().join(',')}`);
});
