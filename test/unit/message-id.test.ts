// message ids: messageIdOf (a cached 32-character stem joined to two hex digits) must give exactly
// the prefix text followed by the sequence as 8 upper-case hex digits — the bytes a UniqKeyRun
// writes — for any sequence, in any order, across prefixes. Seeded (TIDEMQ_SEED replays a run).
import t from 'tap';
import {
  messageIdOf,
  messageIdPrefix,
  newMessageId,
  nextMessageSequence,
} from '../../src/broker/properties.js';
import { seededRng } from '../helpers/rng.js';

function reference(text: string, seq: number): string {
  return text + seq.toString(16).toUpperCase().padStart(8, '0');
}

t.test('message ids: messageIdOf is the prefix and the sequence as 8 hex digits', async (t) => {
  const rng = seededRng(t, 'message ids');
  const prefixes = [messageIdPrefix(Date.UTC(2024, 0, 1)), messageIdPrefix(Date.UTC(2030, 5, 6, 7))];
  const edges = [0, 1, 255, 256, 257, 0xffff, 0x10000, 0xffffff00, 0xfffffffe, 0xffffffff];
  let mismatches = 0;
  const check = (seq: number): void => {
    const prefix = prefixes[rng.int(prefixes.length)]!;
    const got = messageIdOf(prefix, seq);
    if (got !== reference(prefix.text, seq) && mismatches++ < 5) {
      t.equal(got, reference(prefix.text, seq), `seq ${seq}`);
    }
  };
  for (const seq of edges) check(seq);
  let seq = rng.int(2 ** 32);
  for (let i = 0; i < 20_000; i++) {
    // runs of consecutive sequences (a batch), jumps, and repeats of older ones
    const r = rng.int(10);
    if (r === 0) seq = rng.int(2 ** 32);
    else if (r === 1) seq = edges[rng.int(edges.length)]!;
    else seq = (seq + 1) >>> 0;
    check(seq);
  }
  t.equal(mismatches, 0, 'every id matches the reference');
  t.equal(messageIdOf(prefixes[0]!, 0x1234abcd).length, 34);
});

t.test('message ids: newMessageId and messageIdOf agree on the layout', async (t) => {
  const now = Date.now();
  const id = newMessageId(now);
  const prefix = messageIdPrefix(now);
  t.equal(id.slice(0, 26), prefix.text);
  const seq = Number.parseInt(id.slice(26), 16);
  t.equal(messageIdOf(prefix, seq), id);
  t.equal(nextMessageSequence(), (seq + 1) >>> 0, 'the sequence moves on by one per id');
});
