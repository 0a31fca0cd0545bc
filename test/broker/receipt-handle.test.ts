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
