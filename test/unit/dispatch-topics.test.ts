// The dispatch worker recognises a record's topic by comparing its name bytes, a 4-byte word at
// a time, with the last topic's (then a table by hash). Seeded: records of topics that share a
// length, a prefix or all but their last byte, or are shorter than a word, interleaved at
// random, each land in their own topic's consume queue and key index, in order.
import t from 'tap';
import { MessageStore } from '../../src/store/message-store.js';
import { tempDir } from '../helpers/native-env.js';
import { Rng, SMALL } from '../helpers/store-env.js';

const TOPICS = [
  'abcd',
  'abce',
  'abcd1',
  'abcd2',
  'abce1',
  'ab',
  'a',
  'orders',
  'ordert',
  'orders-x',
  'abc',
  'T_x%1',
  'T_x%2',
  'a|b',
];

t.test('dispatch topics: similar topic names each get their own records', async (t) => {
  const rng = new Rng(t, 'dispatch-topics');
  const store = await MessageStore.open(tempDir(t, 'tidemq-topics-'), SMALL);
  t.teardown(() => store.close());
  const want = new Map<string, string[]>();
  for (let i = 0; i < 600; i++) {
    const topic = rng.chance(0.5) ? TOPICS[i % 3]! : rng.pick(TOPICS);
    const body = `${topic}/${i}`;
    store.append({ topic, body, keys: `k${i}` });
    const list = want.get(topic) ?? [];
    list.push(body);
    want.set(topic, list);
  }
  await store.waitForDispatch();
  let wrong = 0;
  for (const [topic, bodies] of want) {
    const got = store.read(topic, 0, 0, 10_000).map((r) => r.body.toString());
    if (JSON.stringify(got) !== JSON.stringify(bodies) && wrong++ < 3) t.same(got, bodies, topic);
    const i = Number(bodies[bodies.length - 1]!.split('/')[1]);
    const byKey = store.queryByKey(topic, `k${i}`).map((r) => r.body.toString());
    if (!(byKey.length === 1 && byKey[0] === bodies[bodies.length - 1]) && wrong++ < 3)
      t.fail(`${topic}: key k${i} finds ${byKey}`);
  }
  t.equal(wrong, 0, `${want.size} topics (seed ${rng.seed})`);
});
