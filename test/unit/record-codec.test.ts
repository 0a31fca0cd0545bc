// Record codec pieces that must be bit-exact with RocketMQ: 64-bit fields as two big-endian
// halves, Java String.hashCode, the properties string, the masked body CRC.
import t from 'tap';
import { native } from '../../src/native.js';
import {
  bodyCrc,
  decodeProperties,
  encodeProperties,
  javaHashCode,
  readInt64,
  writeInt64,
} from '../../src/store/record-codec.js';

t.test('record-codec: 64-bit fields round-trip through two 32-bit halves, negatives included', async (t) => {
  const view = new DataView(new ArrayBuffer(8));
  for (const x of [
    0,
    1,
    -1,
    -5,
    2 ** 31,
    2 ** 32 - 1,
    2 ** 32,
    2 ** 32 + 5,
    123_456_789_012,
    2 ** 53 - 1,
    -(2 ** 40),
  ]) {
    writeInt64(view, 0, x);
    t.equal(readInt64(view, 0), x, String(x));
    t.equal(view.getBigInt64(0, false), BigInt(x), `${x} is big-endian two's complement`);
  }
});

t.test('record-codec: Java String.hashCode over UTF-16 code units', async (t) => {
  t.equal(javaHashCode(''), 0);
  t.equal(javaHashCode('hello'), 99162322);
  t.equal(javaHashCode('TAG1'), 2567159);
  t.equal(javaHashCode('Aa'), javaHashCode('BB'));
  t.equal(javaHashCode('\u00e9t\u00e9'), 227742, 'non-ASCII: code units, not UTF-8 bytes');
  t.equal(javaHashCode('😀'), 1772899, 'a surrogate pair hashes as two units');
});

t.test('record-codec: properties are name\\u0001value\\u0002 pairs', async (t) => {
  const text = encodeProperties({ TAGS: 'a', KEYS: 'k1 k2', x: '' });
  t.equal(text, 'TAGS\u0001a\u0002KEYS\u0001k1 k2\u0002x\u0001\u0002');
  t.same(decodeProperties(text), { TAGS: 'a', KEYS: 'k1 k2', x: '' });
  t.same(decodeProperties('TAGS\u0001a'), { TAGS: 'a' }, 'a missing final separator is tolerated');
});

t.test('record-codec: the JS and native body CRCs agree and are masked to 31 bits', async (t) => {
  const bytes = Buffer.alloc(1024);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 0xff;
  for (const len of [0, 1, 3, 4, 7, 8, 100, 191, 192, 1000]) {
    const expected = native.crc32(bytes, 5, len) & 0x7fffffff;
    t.equal(bodyCrc(bytes, 5, len), expected, `length ${len}`);
  }
});
