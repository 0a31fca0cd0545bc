import t from 'tap';
import { native } from '../../src/native.js';

t.test('crc32: matches the IEEE check value and java.util.zip.CRC32', async (t) => {
  t.equal(native.crc32(Buffer.from('123456789'), 0, 9), 0xcbf43926);
  t.equal(native.crc32(Buffer.alloc(0), 0, 0), 0);
  // offset/length select a sub-range
  t.equal(native.crc32(Buffer.from('xx123456789yy'), 2, 9), 0xcbf43926);
  t.throws(() => native.crc32(Buffer.alloc(4), 2, 4), RangeError);
});
