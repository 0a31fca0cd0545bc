// The dispatch worker finds TAGS, KEYS and UNIQ_KEY in a record's properties bytes without
// decoding them (consume queue tag codes and index keys come from there). Seeded property test:
// for random, also malformed, properties text it finds exactly what decodeProperties (what a
// reader's record.tags / keys see, RocketMQ's reading) finds.
import t from 'tap';
import { propertyRanges } from '../../src/store/property-scan.js';
import { decodeProperties } from '../../src/store/record-codec.js';
import { Rng } from '../helpers/store-env.js';

const PIECES = [
  'TAGS',
  'KEYS',
  'UNIQ_KEY',
  'TAG',
  'KEYSS',
  'X',
  'a b',
  'é',
  '订单',
  '💡',
  '\u0001',
  '\u0002',
  '\u0003',
  '',
  ' ',
  // a message id: long values are scanned a word at a time
  '0100000000000011C70B13CCD800000000',
  'x\u0002\u0001y',
];

t.test('dispatch properties: byte scan agrees with decodeProperties', async (t) => {
  const rng = new Rng(t, 'dispatch-properties');
  let mismatches = 0;
  for (let iter = 0; iter < 20_000; iter++) {
    let text = '';
    const n = rng.int(12);
    for (let i = 0; i < n; i++) text += rng.pick(PIECES);
    const pad = rng.int(5); // every alignment of the word reads
    const buf = Buffer.from(`${'p'.repeat(pad)}${text}pad`, 'utf8');
    const start = pad;
    const end = buf.length - 3;
    const got = propertyRanges(buf, start, end);
    const want = decodeProperties(text);
    const value = (s: number, e: number): string | undefined =>
      s < 0 ? undefined : buf.toString('utf8', s, e);
    const same =
      value(got.tagsStart, got.tagsEnd) === want.TAGS &&
      value(got.keysStart, got.keysEnd) === want.KEYS &&
      value(got.uniqStart, got.uniqEnd) === want.UNIQ_KEY;
    if (!same && mismatches++ < 5) {
      t.fail(
        `${JSON.stringify(text)}: scan ${JSON.stringify(got)}, decodeProperties ${JSON.stringify(want)}`,
      );
    }
  }
  t.equal(mismatches, 0, `20 000 random properties texts (seed ${rng.seed})`);
});
