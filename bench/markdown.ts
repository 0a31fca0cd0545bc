/**
 * Markdown summary of one run for the README: `node dist/bench/markdown.js [results.jsonl]`
 * prints the latest run's tidemq figures with their ratios and the run's context.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { groupTitle } from './catalog.js';
import { mb, rate, ratio, us } from './format.js';
import type { ResultLine } from './spec.js';

export function toMarkdown(all: ResultLine[]): string {
  const runId = all.at(-1)?.extra.runId;
  const lines = all.filter((l) => l.extra.runId === runId);
  const first = lines[0];
  if (first === undefined) return '(no results)';
  const m = first.machine;
  const loads = lines.map((l) => l.loadAvg1m ?? 0);
  const out = [
    `Run ${String(runId).slice(0, 16).replace('T', ' ')} UTC · ${m.cpus}× ${m.cpuModel}, ${Math.round(m.memoryBytes / 1024 ** 3)} GiB, ${m.filesystem} on ${m.device} · Node ${first.node} · commit ${first.commit.slice(0, 10)} · 1-min load average ${Math.min(...loads)}–${Math.max(...loads)} during the run`,
    '',
    '| group | tidemq scenario | msg/s | MB/s | p50 | p99 | p99.9 | best peer (msg/s) | vs best peer | limit (msg/s) | vs limit |',
    '|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|',
  ];
  const byName = new Map(lines.map((l) => [l.scenario, l]));
  for (const l of lines.filter((x) => x.family === 'tidemq')) {
    const peer = l.vsBestPeer?.against ? byName.get(l.vsBestPeer.against) : undefined;
    const limit = l.vsLimit?.against ? byName.get(l.vsLimit.against) : undefined;
    const lat = l.latencyUs;
    out.push(
      `| ${groupTitle(l.group)} | ${l.label} | ${rate(l.throughput.msgPerSec)} | ${mb(l.throughput.mbPerSec)} | ${us(lat?.p50)} | ${us(lat?.p99)} | ${us(lat?.p999)} | ${peer ? `${peer.label}: ${rate(peer.throughput.msgPerSec)}` : '—'} | ${ratio(l.vsBestPeer?.ratio)} | ${limit ? rate(limit.throughput.msgPerSec) : '—'} | ${ratio(l.vsLimit?.ratio)} |`,
    );
  }
  out.push(...serverNotes(lines));
  return out.join('\n');
}

/** The server scenarios' own figures: ratio to the gRPC ceiling, p99 at half peak, CPU per message. */
function serverNotes(lines: ResultLine[]): string[] {
  const server = lines.filter((l) => typeof l.extra.serverCpuUsPerMsg === 'number');
  if (server.length === 0) return [];
  const out = [
    '',
    '| server scenario | msg/s | vs gRPC ceiling (target ≥ 0.8) | p99 at half peak (target ≤ 5 ms) | server CPU / msg (main thread) | ceiling CPU / tidemq CPU | client CPU / msg |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  const cpu = (l: ResultLine | undefined) => Number(l?.extra.serverCpuUsPerMsg);
  for (const l of server) {
    const half = typeof l.extra.halfPeakP99Us === 'number' ? us(l.extra.halfPeakP99Us) : '—';
    const main = Number(l.extra.serverMainThreadCpuUsPerMsg);
    const ceiling = lines.find((x) => x.group === l.group && x.family === 'limit');
    const cpuRatio = l.family === 'tidemq' && ceiling ? ratio(cpu(ceiling) / cpu(l)) : '—';
    out.push(
      `| ${l.label} | ${rate(l.throughput.msgPerSec)} | ${l.family === 'tidemq' ? ratio(l.vsLimit?.ratio) : '—'} | ${half} | ${us(cpu(l))}${main >= 0 ? ` (${us(main)})` : ''} | ${cpuRatio} | ${us(Number(l.extra.clientCpuUsPerMsg))} |`,
    );
  }
  return out;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2] ?? 'bench-results/results.jsonl';
  const all = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ResultLine);
  process.stdout.write(`${toMarkdown(all)}\n`);
}
