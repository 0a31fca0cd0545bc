/**
 * Model-based test of ConsumerState (STYLE.md §11): random journal records — pops as ranges and
 * as tuples (redeliveries, held messages, groups, priorities), acks as lists and as runs, changes
 * of visibility, resets, snapshot + restore — applied both to ConsumerState (messages not done
 * kept as runs, queue-progress.ts) and to a model: the one-Map-entry-per-message state it
 * replaced. After every record the two must agree on the snapshot, the committed offset, the
 * count and the receipt handle in flight at every offset. Prints its seed; TIDEMQ_SEED replays.
 */
import t from 'tap';
import {
  AckedOffsets,
  ackedOffsets,
  ackRecord,
  ConsumerState,
  type ConsumerStateSnapshot,
  type DeliveredTuple,
  type HeldTuple,
  type JournalRecord,
} from '../../src/broker/consumer-state.js';
import { pickSeed, Rng } from '../helpers/rng.js';
import { soak } from '../helpers/store-env.js';

interface ModelEntry {
  attempt: number;
  visibleAt: number;
  handle: number;
  group: string | null;
  priority: number | null;
}

/** The previous ConsumerState: one Map entry per message not done, insertion order = offset order. */
class ModelQueue {
  next: number;
  readonly entries = new Map<number, ModelEntry>();
  constructor(next: number) {
    this.next = next;
  }
  get committed(): number {
    for (const o of this.entries.keys()) return o;
    return this.next;
  }
}

class ModelState {
  readonly queues = new Map<string, ModelQueue>();
  handleSeq = 0;

  private queue(s: string, t: string, q: number, next: number): ModelQueue {
    const key = `${s}/${t}/${q}`;
    let qp = this.queues.get(key);
    if (!qp) {
      qp = new ModelQueue(next);
      this.queues.set(key, qp);
    }
    return qp;
  }

  get(s: string, t: string, q: number): ModelQueue | undefined {
    return this.queues.get(`${s}/${t}/${q}`);
  }

  apply(rec: JournalRecord): void {
    switch (rec.op) {
      case 'pop': {
        const qp = this.queue(rec.s, rec.t, rec.q, rec.n);
        const fresh: [number, ModelEntry][] = [];
        for (const [o, attempt, handle, group, priority] of rec.d) {
          if (handle > this.handleSeq) this.handleSeq = handle;
          const e = qp.entries.get(o);
          if (e) {
            e.attempt = attempt;
            e.visibleAt = rec.v;
            e.handle = handle;
          } else fresh.push([o, { attempt, visibleAt: rec.v, handle, group, priority }]);
        }
        for (const [o, group, priority] of rec.p) {
          if (!qp.entries.has(o)) fresh.push([o, { attempt: 0, visibleAt: 0, handle: 0, group, priority }]);
        }
        fresh.sort((a, b) => a[0] - b[0]);
        for (const [o, e] of fresh) qp.entries.set(o, e);
        if (rec.r !== undefined) {
          const [first, count, handle] = rec.r;
          if (handle + count - 1 > this.handleSeq) this.handleSeq = handle + count - 1;
          for (let i = 0; i < count; i++) {
            const e = qp.entries.get(first + i);
            if (e) {
              e.attempt = 1;
              e.visibleAt = rec.v;
              e.handle = handle + i;
            } else
              qp.entries.set(first + i, {
                attempt: 1,
                visibleAt: rec.v,
                handle: handle + i,
                group: null,
                priority: null,
              });
          }
        }
        if (rec.n > qp.next) qp.next = rec.n;
        return;
      }
      case 'ack': {
        const qp = this.get(rec.s, rec.t, rec.q);
        if (qp) for (const o of ackedOffsets(rec)) qp.entries.delete(o);
        return;
      }
      case 'vis': {
        if (rec.h > this.handleSeq) this.handleSeq = rec.h;
        const e = this.get(rec.s, rec.t, rec.q)?.entries.get(rec.o);
        if (e) {
          e.visibleAt = rec.v;
          e.handle = rec.h;
        }
        return;
      }
      case 'reset': {
        const qp = this.queue(rec.s, rec.t, rec.q, rec.n);
        qp.entries.clear();
        qp.next = rec.n;
        return;
      }
      default:
        return;
    }
  }

  snapshot(): ConsumerStateSnapshot {
    const out: ConsumerStateSnapshot = {};
    for (const [key, qp] of this.queues) {
      const [s, t, q] = key.split('/') as [string, string, string];
      const es: [number, number, number, number, string | null, number | null][] = [];
      for (const [o, e] of qp.entries) es.push([o, e.attempt, e.visibleAt, e.handle, e.group, e.priority]);
      out[s] ??= {};
      out[s][t] ??= {};
      out[s][t][q] = [qp.next, es];
    }
    return out;
  }
}

const SUBS = ['G', 'G#c1'];
const TOPICS = ['T', 'U'];
const QUEUES = 2;
const GROUPS = [null, null, 'g1', 'g2'];

/** A random record that the broker could write (offsets only grow; acks name live messages). */
function randomRecord(rng: Rng, model: ModelState): JournalRecord {
  const s = rng.pick(SUBS);
  const t = rng.pick(TOPICS);
  const q = rng.int(QUEUES);
  const qp = model.get(s, t, q);
  const next = qp?.next ?? rng.int(5);
  const live = qp ? [...qp.entries.keys()] : [];
  const delivered = qp ? [...qp.entries].filter(([, e]) => e.attempt > 0).map(([o]) => o) : [];
  const v = 1000 + rng.int(100);
  const roll = rng.int(100);
  if (roll < 30) {
    // a plain receive: a run of first deliveries
    const count = 1 + rng.int(20);
    const gap = rng.int(3);
    return {
      op: 'pop',
      s,
      t,
      q,
      n: next + gap + count,
      v,
      d: [],
      p: [],
      r: [next + gap, count, model.handleSeq + 1],
    };
  }
  if (roll < 45) {
    // redeliveries of live messages plus fresh picks and held messages (FIFO, priority, filters)
    const d: DeliveredTuple[] = [];
    let h = model.handleSeq + 1;
    for (const o of live) {
      if (rng.bool(0.3)) d.push([o, 1 + rng.int(4), h++, null, null]);
    }
    const p: HeldTuple[] = [];
    let o = next + rng.int(3);
    const fresh = rng.int(8);
    for (let i = 0; i < fresh; i++) {
      const group = rng.pick(GROUPS);
      const priority = rng.bool(0.2) ? rng.int(5) : null;
      if (rng.bool(0.3)) p.push([o, group, priority]);
      else d.push([o, 1, h++, group, priority]);
      o += rng.bool(0.05) ? 200 + rng.int(400) : 1 + rng.int(3); // far apart now and then
    }
    return { op: 'pop', s, t, q, n: o, v, d, p };
  }
  if (roll < 75 && live.length > 0) {
    // an ack of some live messages (in order, or shuffled), either form
    const chosen = live.filter(() => rng.bool(0.5));
    if (rng.bool(0.2)) chosen.reverse();
    if (rng.bool(0.1)) chosen.push(next + 100); // not in flight: ignored
    return rng.bool(0.5) ? ackRecord(s, t, q, chosen) : { op: 'ack', s, t, q, o: chosen };
  }
  if (roll < 80 && live.length > 0) {
    const run = live[0]!;
    const count = 1 + rng.int(30);
    return { op: 'ack', s, t, q, r: [[run, count]] };
  }
  if (roll < 92 && delivered.length > 0) {
    return { op: 'vis', s, t, q, o: rng.pick(delivered), v: v + 50, h: model.handleSeq + 1 };
  }
  if (roll < 95) return { op: 'reset', s, t, q, n: next + rng.int(10) };
  // a redelivery of live consecutive offsets as a run (not what the broker writes: the slow path)
  if (live.length === 0) return { op: 'reset', s, t, q, n: next };
  const at = rng.int(live.length);
  let count = 1;
  while (at + count < live.length && live[at + count] === live[at]! + count && count < 5) count++;
  return { op: 'pop', s, t, q, n: next, v, d: [], p: [], r: [live[at]!, count, model.handleSeq + 1] };
}

function compare(state: ConsumerState, model: ModelState): string {
  const a = JSON.stringify(state.snapshot());
  const b = JSON.stringify(model.snapshot());
  if (a !== b) return `snapshot differs:\n  state ${a}\n  model ${b}`;
  if (state.handleSeq !== model.handleSeq) return `handleSeq ${state.handleSeq} vs ${model.handleSeq}`;
  for (const [key, mq] of model.queues) {
    const [s, t, q] = key.split('/') as [string, string, string];
    const qp = state.get(s, t, Number(q));
    if (!qp) return `${key}: no progress`;
    if (qp.committed !== mq.committed) return `${key}: committed ${qp.committed} vs ${mq.committed}`;
    if (qp.size !== mq.entries.size) return `${key}: size ${qp.size} vs ${mq.entries.size}`;
    const probes = new Set<number>([mq.committed - 1, mq.next, mq.next + 1]);
    for (const o of mq.entries.keys())
      probes
        .add(o - 1)
        .add(o)
        .add(o + 1);
    for (const o of probes) {
      if (o < 0) continue;
      const e = mq.entries.get(o);
      const want = e === undefined || e.attempt === 0 ? -1 : e.handle;
      if (qp.deliveredHandle(o) !== want)
        return `${key} offset ${o}: handle ${qp.deliveredHandle(o)} vs ${want}`;
      if (qp.has(o) !== (e !== undefined)) return `${key} offset ${o}: has ${qp.has(o)}`;
    }
  }
  return '';
}

function runSequence(seed: number, steps: number): string {
  const rng = new Rng(seed);
  let state = new ConsumerState();
  const model = new ModelState();
  for (let step = 0; step < steps; step++) {
    if (rng.bool(0.03)) {
      // restart from a snapshot
      const restored = new ConsumerState();
      restored.restore(JSON.parse(JSON.stringify(state.snapshot())), state.handleSeq);
      state = restored;
    } else {
      const rec = randomRecord(rng, model);
      model.apply(rec);
      state.apply(JSON.parse(JSON.stringify(rec)) as JournalRecord);
    }
    const problem = compare(state, model);
    if (problem) return `step ${step}: ${problem}`;
  }
  return '';
}

const base = pickSeed();
const seeds = soak ? 50 : 10;
const steps = soak ? 5000 : 1500;
for (let i = 0; i < seeds; i++) {
  const seed = (base + i) >>> 0;
  t.test(
    `consumer-state: ${steps} random journal records agree with the per-message model (seed ${seed})`,
    async (t) => {
      t.comment(`seed ${seed} (replay with TIDEMQ_SEED=${seed})`);
      t.equal(runSequence(seed, steps), '', `seed ${seed}`);
    },
  );
}

t.test(
  'consumer-state: ack records are runs when that is shorter, and read back in either form',
  async (t) => {
    const run = ackRecord('G', 'T', 0, [5, 6, 7, 8, 9, 10, 20, 21, 22]);
    t.same(run.r, [
      [5, 6],
      [20, 3],
    ]);
    t.same(run.o, [], 'with an empty list beside the runs: a reader from before the run form iterates o');
    t.same(ackedOffsets(run), [5, 6, 7, 8, 9, 10, 20, 21, 22]);
    t.same(ackRecord('G', 'T', 0, [3, 1, 2]).o, [3, 1, 2], 'not ascending: the list');
    t.same(ackRecord('G', 'T', 0, [1, 3, 5]).o, [1, 3, 5], 'no runs: the list');
    t.same(ackRecord('G', 'T', 0, [7]).o, [7], 'one offset: the list');
    t.same(ackedOffsets({ o: [4, 2] }), [4, 2], 'the old form');
  },
);

t.test(
  'consumer-state: one message stuck at the head while hundreds of later batches are acked',
  async (t) => {
    const state = new ConsumerState();
    const model = new ModelState();
    const both = (rec: JournalRecord): void => {
      state.apply(rec);
      model.apply(rec);
    };
    let next = 0;
    for (let i = 0; i < 300; i++) {
      both({ op: 'pop', s: 'G', t: 'T', q: 0, n: next + 10, v: 5, d: [], p: [], r: [next, 10, next + 1] });
      // the first batch keeps offset 0; every other batch is acked whole, some out of order
      if (i === 0) both(ackRecord('G', 'T', 0, [1, 2, 3, 4, 5, 6, 7, 8, 9]));
      else if (i % 7 === 0)
        both({
          op: 'ack',
          s: 'G',
          t: 'T',
          q: 0,
          o: [next + 9, next + 3, next, next + 1, next + 2, next + 4, next + 5, next + 6, next + 7, next + 8],
        });
      else
        both(
          ackRecord(
            'G',
            'T',
            0,
            Array.from({ length: 10 }, (_, k) => next + k),
          ),
        );
      next += 10;
      t.equal(compare(state, model), '', `after batch ${i}`, { diagnostic: false });
    }
    const qp = state.get('G', 'T', 0)!;
    t.equal(qp.size, 1);
    t.equal(qp.committed, 0);
    t.equal(qp.deliveredHandle(0), 1);
    both({ op: 'ack', s: 'G', t: 'T', q: 0, o: [0] });
    t.equal(qp.committed, 3000, 'all done: the committed offset is next');
    t.equal(compare(state, model), '');
  },
);

t.test('consumer-state: AckedOffsets answers has() and makes the record ackRecord makes', async (t) => {
  const seed = pickSeed();
  t.comment(`seed ${seed} (replay with TIDEMQ_SEED=${seed})`);
  const rng = new Rng(seed);
  let problems = 0;
  for (let round = 0; round < 500; round++) {
    const acked = new AckedOffsets();
    const list: number[] = [];
    let o = rng.int(50);
    const n = rng.int(40);
    for (let i = 0; i < n; i++) {
      // mostly ascending, runs with gaps, sometimes back (and sometimes a duplicate, refused)
      o = rng.bool(0.1) ? rng.int(o + 1) : o + (rng.bool(0.8) ? 1 : 2 + rng.int(5));
      const dup = list.includes(o);
      if (acked.has(o) !== dup) problems++;
      if (!dup) {
        acked.add(o);
        list.push(o);
      }
    }
    const want = ackRecord('G', 'T', 0, list);
    const got = acked.record('G', 'T', 0);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      problems++;
      t.same(got, want, `round ${round}: ${JSON.stringify(list)}`);
    }
  }
  t.equal(problems, 0, `seed ${seed}: 500 rounds agree`);
});
