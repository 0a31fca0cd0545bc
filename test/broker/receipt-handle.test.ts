/**
 * Receipt handles: the per-queue HandleFormat that receive uses makes exactly the text of
 * formatHandle, and parseHandle reads it back. Seeded (TIDEMQ_SEED replays).
 */
import t from 'tap';
import { formatHandle, HandleFormat, parseHandle } from '../../src/broker/message-view.js';
import { pickSeed, Rng } from '../helpers/rng.js';

t.test('receipt-handle: HandleFormat agrees with formatHandle and parses back', async (t) => {
  const seed = pickSeed();
  t.comment(`seed ${seed} (replay with TIDEMQ_SEED=${seed})`);
  const rng = new Rng(seed);
  const topics = ['T', 'bench', '%DLQ%g', 'a_b-c|d', 'x'.repeat(100)];
  let problems = 0;
  for (let i = 0; i < 2000; i++) {
    const topic = rng.pick(topics);
    const queueId = rng.int(3) === 0 ? rng.int(1000) : rng.int(8);
    const f = new HandleFormat(topic, queueId);
    const base = rng.bool() ? rng.int(2000) : rng.int(2 ** 31) * 2 ** rng.int(17);
    for (let k = 0; k < 4; k++) {
      const seq = base + k;
      const offset = rng.bool() ? rng.int(100) : rng.int(2 ** 31) * 2 ** rng.int(17);
      const text = f.format(seq, offset);
      const want = formatHandle(seq, topic, queueId, offset);
      const parsed = parseHandle(text);
      if (
        text !== want ||
        parsed.seq !== seq ||
        parsed.queueId !== queueId ||
        parsed.offset !== offset ||
        parsed.topic !== topic
      ) {
        problems++;
        t.equal(text, want, `seq ${seq} queue ${queueId} offset ${offset} topic ${topic}`);
      }
    }
  }
  t.equal(problems, 0, `seed ${seed}: 8000 handles agree`);
});

t.test('receipt-handle: a batch of handles (add, seal, handle) agrees with formatHandle', async (t) => {
  const seed = pickSeed();
  t.comment(`seed ${seed} (replay with TIDEMQ_SEED=${seed})`);
  const rng = new Rng(seed);
  const topics = ['T', 'bench', '%DLQ%g', 'a_b-c|d', 'x'.repeat(100)];
  let problems = 0;
  let handles = 0;
  for (let i = 0; i < 200; i++) {
    const topic = rng.pick(topics);
    const queueId = rng.int(3) === 0 ? rng.int(1000) : rng.int(8);
    const f = new HandleFormat(topic, queueId);
    // sizes past the scratch's first capacity (1024 handles, 16 KB) make it grow
    const count = rng.int(4) === 0 ? rng.int(1500) : rng.int(300);
    const seq0 = rng.bool() ? rng.int(2000) : rng.int(2 ** 31) * 2 ** rng.int(22);
    const offset0 = rng.bool() ? rng.int(100) : rng.int(2 ** 31) * 2 ** rng.int(17);
    const offsets: number[] = [];
    for (let k = 0; k < count; k++) {
      // consecutive mostly, with jumps (redeliveries before fresh messages)
      const offset = rng.int(10) === 0 ? rng.int(2 ** 31) * 2 ** rng.int(17) : offset0 + k;
      offsets.push(offset);
      f.add(seq0 + k, offset);
    }
    f.seal();
    for (let k = 0; k < count; k++) {
      handles++;
      const text = f.handle(k);
      const want = formatHandle(seq0 + k, topic, queueId, offsets[k]!);
      if (text !== want || parseHandle(text).seq !== seq0 + k) {
        problems++;
        if (problems < 5) t.equal(text, want, `seq ${seq0 + k} offset ${offsets[k]} topic ${topic}`);
      }
    }
  }
  // runs that count across a change in the number of digits (copied handles counted up in place)
  for (const [seq0, offset0] of [
    [36 - 3, 10 - 3],
    [36 ** 2 - 2, 100 - 7],
    [36 ** 5 - 4, 10 ** 6 - 1],
    [2 ** 31 - 5, 2 ** 31 - 5],
    [36 ** 7 - 3, 10 ** 12 - 2],
  ] as const) {
    const f = new HandleFormat('bench', 3);
    for (let k = 0; k < 12; k++) f.add(seq0 + k, offset0 + k);
    f.seal();
    for (let k = 0; k < 12; k++) {
      handles++;
      if (f.handle(k) !== formatHandle(seq0 + k, 'bench', 3, offset0 + k)) {
        problems++;
        t.equal(f.handle(k), formatHandle(seq0 + k, 'bench', 3, offset0 + k), `seq ${seq0 + k}`);
      }
    }
  }
  // the largest safe integers are written exactly (no rounding in the digit loop)
  const f = new HandleFormat('T', 0);
  const big = [
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER - 1,
    36 ** 10 - 1,
    36 ** 10,
    0,
    9,
    10,
    35,
    36,
  ];
  for (const v of big) f.add(v, v);
  f.seal();
  big.forEach((v, k) => {
    if (f.handle(k) !== formatHandle(v, 'T', 0, v)) {
      problems++;
      t.equal(f.handle(k), formatHandle(v, 'T', 0, v), `value ${v}`);
    }
  });
  t.equal(problems, 0, `seed ${seed}: ${handles} handles in batches agree`);
});
