// The dispatch worker hashes tags and index keys straight from a record's bytes, 4 bytes at a
// time over 4 lanes (property-scan.ts hashText). Seeded property test: for random text (ASCII
// and not, every length and alignment, continued from a random prefix hash) it equals the
// one-byte-at-a-time hash and Java's String.hashCode of prefix + text.
import t from 'tap';
import { hashText, hashTextSlow } from '../../src/store/property-scan.js';
import { javaHashCode } from '../../src/store/record-codec.js';
import { Rng } from '../helpers/store-env.js';

const PIECES = ['a', 'Z', '0', '#', ' ', '~', '\u007f', 'é', '订单', '💡', '\u0001', 'bench#', 'UNIQ_KEY'];

t.test('dispatch hash: word-at-a-time hash equals String.hashCode', async (t) => {
  const rng = new Rng(t, 'dispatch-hash');
  let mismatches = 0;
  for (let iter = 0; iter < 20_000; iter++) {
    let text = '';
    const n = rng.int(40);
    const ascii = rng.chance(0.7);
    for (let i = 0; i < n; i++) text += ascii ? rng.pick(PIECES.slice(0, 7)) : rng.pick(PIECES);
    const prefix = rng.pick(['', 'bench#', 'T_x%1#', 'topic-订单#']);
    const pad = rng.int(5);
    const buf = Buffer.from(`${'p'.repeat(pad)}${text}pad`, 'utf8');
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const start = pad;
    const end = buf.length - 3;
    const h = javaHashCode(prefix);
    const want = javaHashCode(prefix + text);
    const fast = hashText(h, view, buf, start, end);
    const slow = hashTextSlow(h, buf, start, end);
    if ((fast !== want || slow !== want) && mismatches++ < 5) {
      t.fail(
        `${JSON.stringify(prefix)} + ${JSON.stringify(text)}: fast ${fast}, slow ${slow}, hashCode ${want}`,
      );
    }
  }
  t.equal(mismatches, 0, `20 000 random texts (seed ${rng.seed})`);
});
