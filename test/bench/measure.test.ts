// The bench's asynchronous measurement loops: a closed loop counting what each call reports, and
// the open (rate-driven) loop used for the server's "p99 at half peak". Timing bounds are loose:
// the machine is shared.
import t from 'tap';
import { runConcurrentLoop, runOpenLoop } from '../../bench/measure.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

t.test('measure: a closed-loop call may report how many messages it handled', async (t) => {
  let calls = 0;
  const r = await runConcurrentLoop({
    warmupMs: 0,
    durationMs: 50,
    concurrency: 3,
    opsPerCall: 1,
    latencyUnit: 'call',
    maxCalls: Number.MAX_SAFE_INTEGER,
    call: async () => {
      calls++;
      await sleep(1);
      return calls % 2 === 0 ? 0 : 5; // an empty batch counts no messages
    },
  });
  t.ok(r.totalCalls > 0, 'calls were made');
  t.equal(r.totalCalls, calls);
  t.ok(
    r.totalOps > 0 && r.totalOps % 5 === 0 && r.totalOps < r.totalCalls * 5,
    'each call added its own count',
  );
  t.equal(r.latency.count, r.ops, 'the histogram holds one value per message measured');
});

t.test('measure: the open loop starts calls on schedule whatever the earlier calls do', async (t) => {
  let slowOnes = 0;
  const r = await runOpenLoop({
    ratePerSec: 400,
    durationMs: 250,
    maxOutstanding: 1000,
    call: async () => {
      // every tenth call takes 40 ms; a closed loop would slow down, an open one must not
      if (slowOnes++ % 10 === 0) await sleep(40);
      else await sleep(1);
    },
  });
  t.equal(r.failed, 0);
  t.equal(r.skipped, 0);
  t.equal(r.completed, r.started, 'every started call completed before the loop returned');
  // 400/s for 250 ms = 100 calls due; each starts at the first 1 ms tick after it falls due
  t.ok(r.started >= 99 && r.started <= 101, `started ${r.started} of 100 scheduled`);
  t.equal(r.latency.count, r.completed);
  t.ok(r.latency.summary('').maxUs >= 40_000, 'the slow calls are in the histogram');
  t.ok(
    r.fromSchedule.summary('').p50Us >= r.latency.summary('').p50Us,
    'latency from the due time is never below latency from the start',
  );
});

t.test('measure: the open loop skips (and counts) calls beyond maxOutstanding', async (t) => {
  const r = await runOpenLoop({
    ratePerSec: 1000,
    durationMs: 50,
    maxOutstanding: 5,
    call: () => sleep(200),
  });
  t.equal(r.started, 5, 'no more than 5 in flight');
  t.ok(r.skipped > 0, `skipped ${r.skipped}`);
  t.equal(r.completed, 5);
});

t.test('measure: a failing call is counted, not recorded', async (t) => {
  let n = 0;
  const r = await runOpenLoop({
    ratePerSec: 200,
    durationMs: 50,
    maxOutstanding: 100,
    call: async () => {
      if (n++ % 2 === 0) throw new Error('refused');
    },
  });
  t.ok(r.failed > 0);
  t.equal(r.failed + r.completed, r.started);
  t.equal(r.latency.count, r.completed);
});
