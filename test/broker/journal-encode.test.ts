/**
 * Journal encoding: the records written out directly (a pop of one run of first deliveries, an
 * ack of offset runs) are the very text JSON.stringify makes of them, and every other record
 * still goes through JSON.stringify — for random records, strings that need escaping and numbers
 * that do not print as integers included. Seeded (TIDEMQ_SEED replays).
 */
import t from 'tap';
import type { JournalRecord } from '../../src/broker/consumer-state.js';
import { decodeJournal, encodeJournal } from '../../src/broker/journal.js';
import { pickSeed, Rng } from '../helpers/rng.js';

const NAMES = ['g', 'G#client-1', 'bench', '%RETRY%g', 'quote"back\\slash', 'ü\u0000\n\u2028', ''];

function num(rng: Rng): number {
  switch (rng.int(12)) {
    case 0:
      return Number.NaN;
    case 1:
      return -0;
    case 2:
      return 1.5;
    case 3:
      return Number.POSITIVE_INFINITY;
    case 4:
      return 2 ** 53 + 2;
    case 5:
      return 1_795_306_401_865 + rng.int(1000);
    default:
      return rng.int(1 << 20);
  }
}

function record(rng: Rng): JournalRecord {
  const s = rng.pick(NAMES);
  const t = rng.pick(NAMES);
  if (rng.bool()) {
    const rec: JournalRecord = {
      op: 'pop',
      s,
      t,
      q: num(rng),
      n: num(rng),
      v: num(rng),
      d: rng.int(4) === 0 ? [[num(rng), 1, num(rng), rng.bool() ? null : 'grp', null]] : [],
      p: rng.int(4) === 0 ? [[num(rng), null, 3]] : [],
    };
    if (rng.int(5) > 0) rec.r = [num(rng), num(rng), num(rng)];
    return rec;
  }
  const runs: [number, number][] = [];
  for (let i = rng.int(4); i > 0; i--) runs.push([num(rng), num(rng)]);
  const form = rng.int(4);
  if (form === 0) return { op: 'ack', s, t, q: num(rng), o: [num(rng), num(rng)] };
  if (form === 1) return { op: 'ack', s, t, q: num(rng), o: [num(rng)], r: runs };
  return { op: 'ack', s, t, q: num(rng), o: [], r: runs };
}

t.test('journal: encoded records are the text JSON.stringify makes of them', async (t) => {
  const seed = pickSeed();
  t.comment(`seed ${seed} (replay with TIDEMQ_SEED=${seed})`);
  const rng = new Rng(seed);
  let problems = 0;
  let direct = 0;
  for (let i = 0; i < 20_000; i++) {
    const rec = record(rng);
    const got = encodeJournal(rec);
    const want = JSON.stringify(rec);
    if (got !== want) {
      problems++;
      if (problems < 5) t.equal(got, want, `record ${i}`);
    }
    // the direct forms: a pop of one run with no d/p entries, an ack of runs with an empty o list
    if (
      rec.op === 'pop'
        ? rec.r !== undefined && rec.d.length === 0 && rec.p.length === 0
        : rec.op === 'ack' && rec.o?.length === 0 && rec.r !== undefined
    )
      direct++;
  }
  t.ok(direct > 5000, `${direct} records of the direct forms`);
  t.equal(problems, 0, `seed ${seed}: every record encodes as JSON.stringify does`);
});

t.test('journal: a broker pop and ack read back as written', async (t) => {
  const pop: JournalRecord = { op: 'pop', s: 'g', t: 'T', q: 2, n: 300, v: 1_795_306_401_865, d: [], p: [] };
  pop.r = [44, 256, 16_789_764];
  t.same(decodeJournal(Buffer.from(encodeJournal(pop))), pop);
  const ack: JournalRecord = {
    op: 'ack',
    s: 'g',
    t: 'T',
    q: 2,
    o: [],
    r: [
      [44, 200],
      [250, 50],
    ],
  };
  t.same(decodeJournal(Buffer.from(encodeJournal(ack))), ack);
});
