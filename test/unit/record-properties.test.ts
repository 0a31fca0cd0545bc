// record-properties: the properties field measured and written straight into the segment must be
// byte for byte what the properties text built by concatenation and UTF-8-encoded gives, and
// refuse exactly the input it refused. Seeded (TIDEMQ_SEED replays a run).
import t from 'tap';
import { StoreError } from '../../src/errors.js';
import { type Message, MessageStore } from '../../src/index.js';
import {
  checkUniqKeyRun,
  measurePropertiesBytes,
  utf8BytesWithoutSeparator,
  writePropertiesBytes,
} from '../../src/store/record-properties.js';
import { tempDir } from '../helpers/native-env.js';
import { type Rng, seededRng } from '../helpers/rng.js';

/** The reference: the properties text as the commit log used to build it, then its UTF-8 bytes. */
function referenceBytes(msg: Message): Buffer {
  const hasSeparator = (s: string): boolean => s.includes('\u0001') || s.includes('\u0002');
  const invalid = (): Error => new StoreError('INVALID_MESSAGE', 'reference');
  let text = '';
  if (msg.tags !== undefined) {
    if (typeof msg.tags !== 'string' || msg.tags.length === 0 || hasSeparator(msg.tags)) throw invalid();
    text += `TAGS\u0001${msg.tags}\u0002`;
  }
  if (msg.keys !== undefined) {
    const keys = typeof msg.keys === 'string' ? [msg.keys] : msg.keys;
    if (
      !Array.isArray(keys) ||
      keys.some((k) => typeof k !== 'string' || k.length === 0 || hasSeparator(k) || k.includes(' '))
    ) {
      throw invalid();
    }
    if (keys.length > 0) text += `KEYS\u0001${keys.join(' ')}\u0002`;
  }
  // uniqKey: the same as a UNIQ_KEY given last in the properties
  let props = msg.properties;
  if (msg.uniqKey !== undefined) {
    if (typeof msg.uniqKey !== 'string' || msg.uniqKey.length === 0) throw invalid();
    const copy: Record<string, string> = {};
    for (const name in props ?? {}) {
      if (name === 'UNIQ_KEY') {
        const v = props![name];
        if (typeof v !== 'string' || hasSeparator(v)) throw invalid(); // still validated
        continue;
      }
      copy[name] = props![name]!;
    }
    copy.UNIQ_KEY = msg.uniqKey;
    props = copy;
  }
  if (props !== undefined) {
    if (props === null || typeof props !== 'object') throw invalid();
    for (const name in props) {
      const value = props[name];
      if (name.length === 0 || typeof value !== 'string' || hasSeparator(name) || hasSeparator(value)) {
        throw invalid();
      }
      if (name === 'TAGS' && msg.tags !== undefined) continue;
      if (name === 'KEYS' && msg.keys !== undefined) continue;
      text += `${name}\u0001${value}\u0002`;
    }
  }
  return Buffer.from(text, 'utf8');
}

const PIECES = [
  'a',
  'Z',
  '0',
  '-',
  ' ',
  'é',
  'ß',
  '中',
  '😀',
  '\ud83d', // a lone high surrogate
  '\ude00', // a lone low surrogate
  '\u0001',
  '\u0002',
  '\u007f',
  '\u0080',
  '\u07ff',
  '\u0800',
  '\uffff',
];

function randomString(rng: Rng, allowEmpty: boolean): string {
  const roll = rng.int(20);
  if (roll === 0 && allowEmpty) return '';
  // mostly ASCII; sometimes one odd piece; sometimes long (the native path)
  const length = roll === 1 ? rng.range(250, 600) : rng.range(1, 12);
  let s = '';
  for (let i = 0; i < length; i++)
    s += rng.bool(0.9) ? String.fromCharCode(0x61 + rng.int(26)) : rng.pick(PIECES);
  return s;
}

function randomMessage(rng: Rng): Message {
  const msg: Message = { topic: 'p', body: 'x' };
  if (rng.bool(0.5)) msg.tags = rng.bool(0.05) ? (7 as never) : randomString(rng, true);
  if (rng.bool(0.4)) {
    msg.keys = rng.bool(0.3)
      ? randomString(rng, true)
      : Array.from({ length: rng.int(4) }, () => randomString(rng, true));
  }
  if (rng.bool(0.6)) {
    const props: Record<string, string> = {};
    const names = ['TAGS', 'KEYS', 'UNIQ_KEY', 'n', 'é', ''];
    for (let i = rng.int(5); i > 0; i--) {
      const name = rng.bool(0.3) ? rng.pick(names) : randomString(rng, false);
      props[name] = rng.bool(0.03) ? (1 as never) : randomString(rng, true);
    }
    msg.properties = props;
  }
  if (rng.bool(0.5)) msg.uniqKey = rng.bool(0.05) ? '' : randomString(rng, false);
  return msg;
}

t.test('record-properties: UTF-8 byte counts agree with Buffer.byteLength', async (t) => {
  const rng = seededRng(t, 'byte counts');
  for (let i = 0; i < 2000; i++) {
    const s = randomString(rng, true);
    const expected = s.includes('\u0001') || s.includes('\u0002') ? -1 : Buffer.byteLength(s, 'utf8');
    const got = utf8BytesWithoutSeparator(s, false);
    if (got !== expected) {
      t.fail(`${JSON.stringify(s)}: ${got}, expected ${expected}`);
      return;
    }
  }
  t.equal(utf8BytesWithoutSeparator('a b', true), -1, 'a space is refused where asked');
  t.equal(utf8BytesWithoutSeparator('😀', false), 4, 'a surrogate pair is 4 bytes');
  t.equal(utf8BytesWithoutSeparator('\ud83d', false), 3, 'a lone surrogate is U+FFFD: 3 bytes');
});

t.test('record-properties: the bytes written are the reference text, or both refuse', async (t) => {
  const rng = seededRng(t, 'properties');
  const buf = Buffer.alloc(64 * 1024);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let accepted = 0;
  let refused = 0;
  for (let i = 0; i < 3000; i++) {
    const msg = randomMessage(rng);
    let expected: Buffer | undefined;
    try {
      expected = referenceBytes(msg);
    } catch {
      expected = undefined;
    }
    let length: number | undefined;
    try {
      length = measurePropertiesBytes(msg);
    } catch (err) {
      if (!(err instanceof StoreError) || err.code !== 'INVALID_MESSAGE') throw err;
    }
    if (expected === undefined || length === undefined) {
      if (expected !== length) {
        t.fail(`message ${i} (${JSON.stringify(msg)}): reference ${expected ? 'accepts' : 'refuses'}`);
        return;
      }
      refused++;
      continue;
    }
    buf.fill(0xee, 0, length + 16);
    const end = writePropertiesBytes(buf, view, 3, msg);
    if (length !== expected.length || end !== 3 + length || !buf.subarray(3, end).equals(expected)) {
      t.fail(`message ${i} (${JSON.stringify(msg)}): ${buf.subarray(3, end).toString('hex')}`);
      return;
    }
    if (buf[end] !== 0xee) {
      t.fail(`message ${i}: wrote past its measured length`);
      return;
    }
    accepted++;
  }
  t.ok(accepted > 1000 && refused > 100, `accepted ${accepted}, refused ${refused}: both kinds were tried`);
});

t.test('record-properties: a store reads back what was appended, uniqKey as UNIQ_KEY', async (t) => {
  const store = await MessageStore.open(tempDir(t, 'tidemq-props-'), { segmentBytes: 1024 * 1024 });
  t.teardown(() => store.close());
  const msgs: Message[] = [
    { topic: 'p', body: 'a', uniqKey: '0100AB' },
    {
      topic: 'p',
      body: 'b',
      tags: 'tä',
      keys: ['k1', '中'],
      properties: { x: '😀', UNIQ_KEY: 'old' },
      uniqKey: 'u',
    },
    { topic: 'p', body: 'c', properties: { y: '' } },
  ];
  store.appendBatch(msgs);
  const got = [...store.scan()].map((r) => r.properties);
  t.same(got[0], { UNIQ_KEY: '0100AB' });
  t.same(got[1], { TAGS: 'tä', KEYS: 'k1 中', x: '😀', UNIQ_KEY: 'u' }, 'the field wins over the property');
  t.same(got[2], { y: '' });
  const before = store.stats().wrotePosition;
  t.throws(
    () =>
      store.appendBatch([
        { topic: 'p', body: 'd' },
        { topic: 'p', body: 'e', uniqKey: 'a\u0001' },
      ]),
    {
      code: 'INVALID_MESSAGE',
    },
  );
  t.equal(store.stats().wrotePosition, before, 'a bad uniqKey writes nothing');
});

t.test('record-properties: a UniqKeyRun writes the bytes of the same id given as a string', async (t) => {
  const rng = seededRng(t, 'uniqKey run');
  const buf = Buffer.alloc(64 * 1024);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const prefix = Buffer.from('01000000000000ABCD0A1B2C3D', 'latin1');
  const run = { prefix, sequence: [] };
  checkUniqKeyRun(run, 0); // readies the prefix, as appendBatch does
  let compared = 0;
  for (let i = 0; i < 2000; i++) {
    const msg = randomMessage(rng);
    const seq = rng.pick([0, 1, 0xffffffff, 0x7fffffff, rng.int(0x100000000)]);
    const id = prefix.toString('latin1') + seq.toString(16).toUpperCase().padStart(8, '0');
    let expected: number | undefined;
    try {
      expected = measurePropertiesBytes(msg.uniqKey === undefined ? { ...msg, uniqKey: id } : msg);
    } catch {
      expected = undefined;
    }
    let length: number | undefined;
    try {
      length = measurePropertiesBytes(msg, prefix.length + 8);
    } catch {
      length = undefined;
    }
    if (expected !== length) {
      t.fail(`message ${i} (${JSON.stringify(msg)}): measured ${length}, expected ${expected}`);
      return;
    }
    if (length === undefined) continue;
    const reference = Buffer.alloc(length);
    writePropertiesBytes(
      reference,
      new DataView(reference.buffer, reference.byteOffset, reference.length),
      0,
      msg.uniqKey === undefined ? { ...msg, uniqKey: id } : msg,
    );
    const end = writePropertiesBytes(buf, view, 0, msg, run, seq);
    if (end !== length || !buf.subarray(0, end).equals(reference)) {
      t.fail(`message ${i} (${JSON.stringify(msg)}), seq ${seq}: ${buf.subarray(0, end).toString('latin1')}`);
      return;
    }
    compared++;
  }
  t.ok(compared > 500, `${compared} messages compared`);
});

t.test('record-properties: appendBatch with a UniqKeyRun; a bad run writes nothing', async (t) => {
  const store = await MessageStore.open(tempDir(t, 'tidemq-props-'), { segmentBytes: 1024 * 1024 });
  t.teardown(() => store.close());
  const prefix = Buffer.from('PFX-', 'latin1');
  store.appendBatch(
    [
      { topic: 'p', body: 'a' },
      { topic: 'p', body: 'b', uniqKey: 'own' },
      { topic: 'p', body: 'c', tags: 't', properties: { UNIQ_KEY: 'x', y: '1' } },
      { topic: 'p', body: 'd' },
    ],
    { prefix, sequence: [0xabc, 5, 0xffffffff, -1] },
  );
  const got = [...store.scan()].map((r) => r.properties);
  t.same(got[0], { UNIQ_KEY: 'PFX-00000ABC' });
  t.same(got[1], { UNIQ_KEY: 'own' }, "the message's own uniqKey wins");
  t.same(got[2], { TAGS: 't', y: '1', UNIQ_KEY: 'PFX-FFFFFFFF' }, 'the run wins over the property');
  t.same(got[3], {}, '-1: no UNIQ_KEY');
  const before = store.stats().wrotePosition;
  const two = [
    { topic: 'p', body: 'e' },
    { topic: 'p', body: 'f' },
  ];
  for (const [run, what] of [
    [{ prefix: Buffer.from('a\u0001'), sequence: [1, 2] }, 'a separator in the prefix'],
    [{ prefix: Buffer.from('é'), sequence: [1, 2] }, 'a non-ASCII prefix'],
    [{ prefix: 'PFX', sequence: [1, 2] }, 'a string prefix'],
    [{ prefix, sequence: [1] }, 'too few sequence numbers'],
    [{ prefix, sequence: [1, 2 ** 32] }, 'a sequence number above 2^32-1'],
    [{ prefix, sequence: [1, 1.5] }, 'a fractional sequence number'],
    [{ prefix, sequence: [1, -2] }, 'a negative sequence number other than -1'],
  ] as const) {
    t.throws(() => store.appendBatch(two, run as never), { code: 'INVALID_MESSAGE' }, what);
  }
  t.equal(store.stats().wrotePosition, before, 'no bad run wrote anything');
});
