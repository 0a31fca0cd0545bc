import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { runBench } from '../../bench/run.js';
import type { ResultLine } from '../../bench/spec.js';

// --quick takes ~25 s on an idle 2-core machine; a machine shared with other jobs can be several
// times slower, and a timeout there would say nothing about the bench.
t.setTimeout(600_000);

t.test('bench: --quick runs every scenario and each one proves its path', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tidemq-bench-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const jsonPath = path.join(dir, 'results.jsonl');
  // tap's process-info hook (NODE_OPTIONS=--import …) would load into every scenario child and
  // double the run time; the bench's children run bare, as under `npm run bench`.
  delete process.env.NODE_OPTIONS;
  const started = Date.now();
  const run = await runBench(['--quick', '--json', jsonPath, '--report', path.join(dir, 'report.svg')]);
  t.comment(`bench --quick took ${Date.now() - started} ms`);

  const lines = readFileSync(jsonPath, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ResultLine);
  t.equal(lines.length, run.lines.length, 'one JSON line per scenario');
  t.ok(lines.length >= 10, 'the quick run covers the scenario groups');
  t.same(run.failures, [], 'no scenario failed or failed its check');

  for (const line of lines) {
    t.equal(line.status, 'ok', `${line.scenario} ran`);
    t.ok(line.throughput.msgPerSec > 0, `${line.scenario} throughput > 0`);
    t.ok(line.check.passed, `${line.scenario} check passed: ${line.check.description}`);
    t.ok(
      line.node.startsWith('v') && line.commit.length > 0 && line.machine.cpus > 0,
      `${line.scenario} carries context`,
    );
  }
  t.match(readFileSync(path.join(dir, 'report.svg'), 'utf8'), /^<svg /, 'the report is an SVG');
  const floors = lines.filter((l) => l.scenario.startsWith('limit/broker-pipeline/'));
  const batched = lines.find((l) => l.scenario === 'tidemq/broker/e2e-batch/100');
  t.same(
    floors.map((l) => l.extra.pages).sort(),
    ['fresh', 'warm'],
    'the broker group has its machine limits: the pipeline floor in memory and into fresh pages',
  );
  t.match(batched?.vsLimit?.against, /^limit\/broker-pipeline\//, 'the broker rows are compared with them');
  for (const floor of floors) {
    t.equal(
      floor.extra.atTidemqRatePerSec,
      batched?.extra.pacedMsgPerSec,
      `${floor.scenario} is also timed at the batched scenario's half-peak rate`,
    );
    const atRate = floor.extra.latencyP99MsAtTidemqRate;
    t.ok(typeof atRate === 'number' && atRate > 0, `${floor.scenario}: p99 at that rate ${atRate} ms`);
  }
  const e2e = lines.filter((l) => l.scenario.startsWith('tidemq/broker/e2e'));
  t.ok(e2e.length > 0, 'the quick run has the broker end-to-end scenarios');
  for (const line of [...e2e, ...floors]) {
    for (const pct of [25, 10]) {
      const rate = line.extra[`pacedMsgPerSecAt${pct}pct`];
      const p99 = line.extra[`latencyP99MsAt${pct}pct`];
      const p50 = line.extra[`latencyP50MsAt${pct}pct`];
      t.ok(
        typeof rate === 'number' && Math.abs(rate - (line.extra.peakMsgPerSec as number) * (pct / 100)) <= 1,
        `${line.scenario}: paced at ${pct}% of its peak`,
      );
      t.ok(
        typeof p99 === 'number' && typeof p50 === 'number' && p99 >= p50 && p50 > 0,
        `${line.scenario}: p50 ≤ p99 at ${pct}%`,
      );
    }
  }
});
