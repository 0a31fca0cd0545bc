// The bench's buffered latency recorder (the broker scenarios' timed spans) reports what the plain
// HDR recorder reports for the same values, however many it is given, and however the summary is
// interleaved with recording. Values are random, with the seed printed.
import t from 'tap';
import { BufferedLatencyRecorder, LatencyRecorder } from '../../bench/histogram.js';

const seed = Number(process.env.TIDEMQ_SEED ?? Date.now() % 1_000_000);
let state = seed;
const random = () => {
  state = (state * 1103515245 + 12345) % 2 ** 31;
  return state / 2 ** 31;
};

t.test(`buffered recorder: same figures as the HDR recorder (seed ${seed})`, async (t) => {
  for (const [expected, n] of [
    [10_000, 5000], // fewer than sized for
    [1000, 50_000], // grows past its size while recording
  ] as const) {
    const plain = new LatencyRecorder();
    const buffered = new BufferedLatencyRecorder(expected);
    for (let i = 0; i < n; i++) {
      // ns from 1 µs to ~100 ms, skewed to the low end like a latency distribution
      const ns = 1000 * Math.exp(random() * Math.log(100_000));
      plain.recordNs(ns);
      buffered.recordNs(ns);
      if (i === Math.floor(n / 2)) {
        t.equal(buffered.count, plain.count, 'count includes values not yet in the histogram');
        t.same(buffered.summary('ns'), plain.summary('ns'), 'a summary mid-way matches');
      }
    }
    plain.recordNsWithCount(7_000_000, 3);
    buffered.recordNsWithCount(7_000_000, 3);
    t.equal(buffered.count, n + 3);
    t.same(buffered.summary('ns'), plain.summary('ns'), `${n} values (sized for ${expected}): same summary`);
    buffered.reset();
    t.equal(buffered.count, 0, 'reset drops buffered values too');
    t.equal(buffered.summary('ns').count, 0);
  }
});
