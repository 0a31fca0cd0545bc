import zlib from 'node:zlib';
import t from 'tap';
import { native } from '../../src/native.js';
import { seededRandom, testSeed } from '../helpers/native-env.js';

t.test('crc32: matches the IEEE check value and java.util.zip.CRC32', async (t) => {
  t.equal(native.crc32(Buffer.from('123456789'), 0, 9), 0xcbf43926);
  t.equal(native.crc32(Buffer.alloc(0), 0, 0), 0);
  // offset/length select a sub-range
  t.equal(native.crc32(Buffer.from('xx123456789yy'), 2, 9), 0xcbf43926);
  t.throws(() => native.crc32(Buffer.alloc(4), 2, 4), RangeError);
});

t.test('crc32: equals zlib.crc32 on random lengths, offsets and contents (seeded)', async (t) => {
  // The addon folds inputs of 64 bytes and more with carry-less multiplication where the CPU has
  // it; zlib (Node's own) is an independent reference for every length around the fold's steps.
  const seed = testSeed();
  t.comment(`seed ${seed} (replay with TIDEMQ_SEED=${seed})`);
  const random = seededRandom(seed);
  const bytes = Buffer.alloc(20_000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
  let mismatches = 0;
  for (let i = 0; i < 3000; i++) {
    const length = i < 300 ? i : Math.floor(random() * (i % 10 === 0 ? 16_000 : 400));
    const offset = Math.floor(random() * 64);
    const expected = zlib.crc32(bytes.subarray(offset, offset + length));
    if (native.crc32(bytes, offset, length) !== expected) {
      t.fail(`length ${length} at offset ${offset}`);
      if (++mismatches > 5) break;
    }
  }
  t.equal(mismatches, 0, 'every crc32 matched zlib');
});
