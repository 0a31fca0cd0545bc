/** The results table printed at the end of a run, one section per comparison group. */
import { groupTitle } from './catalog.js';
import { mb, rate, ratio, us } from './format.js';
import type { ResultLine } from './spec.js';

const columns = [
  'scenario',
  'msg/s',
  'MB/s',
  'p50',
  'p99',
  'p99.9',
  'max',
  'vs best peer',
  'vs limit',
  'check',
];

function row(line: ResultLine): string[] {
  if (line.status !== 'ok') {
    return [
      line.label,
      line.status === 'failed' ? 'FAILED' : 'n/a',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      (line.reason ?? '').split('\n')[0]!,
    ];
  }
  const l = line.latencyUs;
  const micro = line.family === 'micro';
  return [
    line.label,
    micro ? `${rate(line.throughput.msgPerSec)} calls` : rate(line.throughput.msgPerSec),
    mb(line.throughput.mbPerSec),
    us(l?.p50),
    micro ? '' : us(l?.p99),
    micro ? '' : us(l?.p999),
    micro ? '' : us(l?.max),
    line.family === 'tidemq' ? ratio(line.vsBestPeer?.ratio) : '',
    line.family === 'tidemq' ? ratio(line.vsLimit?.ratio) : '',
    line.check.passed ? 'ok' : 'FAILED',
  ];
}

/** The broker scenarios' latency at lighter loads (extra latencyP99MsAt<N>pct), as one line. */
function lighterLoads(line: ResultLine): string | undefined {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(line.extra ?? {})) {
    const m = /^latencyP99MsAt(\d+)pct$/.exec(key);
    if (!m) continue;
    const r = line.extra[`pacedMsgPerSecAt${m[1]}pct`];
    const p50 = line.extra[`latencyP50MsAt${m[1]}pct`];
    parts.push(
      `${m[1]}% of peak (${typeof r === 'number' ? rate(r) : '?'}/s): p50 ${p50} ms, p99 ${value} ms`,
    );
  }
  const atTidemq = line.extra?.latencyP99MsAtTidemqRate;
  if (typeof atTidemq === 'number') {
    parts.push(
      `tidemq's half-peak rate (${rate(Number(line.extra.atTidemqRatePerSec))}/s): p50 ${line.extra.latencyP50MsAtTidemqRate} ms, p99 ${atTidemq} ms`,
    );
  }
  return parts.length > 0 ? `at ${parts.join('; ')}` : undefined;
}

export function formatTable(lines: ResultLine[], color: boolean): string {
  const groups = new Map<string, ResultLine[]>();
  for (const line of lines) groups.set(line.group, [...(groups.get(line.group) ?? []), line]);
  const rows = lines.map(row);
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (i === 9 ? 0 : r[i]!.length))));
  const fmt = (cells: string[]) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : i === 9 ? cell : cell.padStart(widths[i]!)))
      .join('  ');
  const out: string[] = [fmt(columns)];
  for (const [group, members] of groups) {
    out.push('', color ? `\x1b[1m${groupTitle(group)}\x1b[0m` : `## ${groupTitle(group)}`);
    for (const line of members) {
      out.push(fmt(row(line)));
      const lighter = lighterLoads(line);
      if (lighter) out.push(`  ${lighter}`);
    }
  }
  out.push(
    '',
    'Latency columns: per call of the scenario (see the JSON `latencyUs.unit`); micro rows show the benchmark.js mean per call.',
    'Ratios: tidemq msg/s over the best peer and over the machine limit of the same group; n/a = no such figure in this run.',
  );
  return out.join('\n');
}
