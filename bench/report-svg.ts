/**
 * The picture: one self-contained SVG. Each row is a scenario; left, its throughput as a bar on
 * a log scale shared by the whole chart (tidemq, peers, machine limit); right, its latency
 * percentiles (p50 ● p99 ◆ p99.9 ▲ max |) on a log scale of microseconds.
 */
import { groupTitle } from './catalog.js';
import { mb, rate, ratio, us } from './format.js';
import type { MachineInfo, ResultLine } from './spec.js';

const W = 1480;
const labelRight = 290;
const barLeft = 300;
const barWidth = 420;
/** Room right of the longest bar for its value text. */
const latLeft = 980;
const latWidth = 260;
const latTextLeft = latLeft + latWidth + 12;
const rowH = 20;
const colors = { tidemq: '#1f6feb', peer: '#e08a1e', limit: '#8c959f', micro: '#8250df' };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function logScale(min: number, max: number, left: number, width: number): (v: number) => number {
  const lo = Math.log10(min);
  const hi = Math.log10(max);
  return (v: number) => left + ((Math.log10(Math.max(min, Math.min(max, v))) - lo) / (hi - lo)) * width;
}

/** Throughput tick: 100, 1 k, 10 k, 1 M… */
function rateTick(v: number): string {
  if (v >= 1e9) return `${v / 1e9} G`;
  if (v >= 1e6) return `${v / 1e6} M`;
  if (v >= 1e3) return `${v / 1e3} k`;
  return String(v);
}

/** Latency tick from µs: 10 ns, 1 µs, 100 µs, 10 ms, 1 s… */
function timeTick(v: number): string {
  if (v >= 1e6) return `${v / 1e6} s`;
  if (v >= 1e3) return `${v / 1e3} ms`;
  if (v >= 1) return `${v} µs`;
  return `${Math.round(v * 1000)} ns`;
}

function decades(min: number, max: number): number[] {
  const out: number[] = [];
  for (let e = Math.round(Math.log10(min)); e <= Math.round(Math.log10(max)); e++) out.push(10 ** e);
  return out;
}

function bounds(values: number[], fallback: [number, number]): [number, number] {
  const good = values.filter((v) => Number.isFinite(v) && v > 0);
  if (good.length === 0) return fallback;
  return [10 ** Math.floor(Math.log10(Math.min(...good))), 10 ** Math.ceil(Math.log10(Math.max(...good)))];
}

export function renderReport(
  lines: ResultLine[],
  ctx: { machine: MachineInfo; node: string; commit: string; runId: string },
): string {
  const ok = lines.filter((l) => l.status === 'ok');
  const [tMin, tMax] = bounds(
    ok.map((l) => l.throughput.msgPerSec),
    [1, 1e7],
  );
  const [lMin, lMax] = bounds(
    ok.flatMap((l) => (l.latencyUs === null ? [] : [l.latencyUs.p50, l.latencyUs.max])),
    [0.1, 1e6],
  );
  const x = logScale(tMin, tMax, barLeft, barWidth);
  const lx = logScale(lMin, lMax, latLeft, latWidth);

  const groups = new Map<string, ResultLine[]>();
  for (const line of lines) groups.set(line.group, [...(groups.get(line.group) ?? []), line]);

  const body: string[] = [];
  let y = 150;
  const axis = (top: number, bottom: number) => {
    for (const d of decades(tMin, tMax)) {
      body.push(`<line x1="${x(d)}" y1="${top}" x2="${x(d)}" y2="${bottom}" class="grid"/>`);
    }
    for (const d of decades(lMin, lMax)) {
      body.push(`<line x1="${lx(d)}" y1="${top}" x2="${lx(d)}" y2="${bottom}" class="grid"/>`);
    }
  };
  const axisLabels = (at: number) => {
    for (const d of decades(tMin, tMax))
      body.push(`<text x="${x(d)}" y="${at}" class="tick">${rateTick(d)}</text>`);
    const lat = decades(lMin, lMax);
    const every = latWidth / Math.max(1, lat.length - 1) < 34 ? 2 : 1;
    lat.forEach((d, i) => {
      if (i % every === 0) body.push(`<text x="${lx(d)}" y="${at}" class="tick">${timeTick(d)}</text>`);
    });
  };
  axisLabels(y - 8);

  for (const [group, members] of groups) {
    const top = y;
    body.push(`<text x="20" y="${y + 14}" class="group">${esc(groupTitle(group))}</text>`);
    y += rowH + 2;
    const rowsTop = y;
    for (const line of members) {
      const cy = y + rowH / 2;
      body.push(
        `<text x="${labelRight}" y="${cy + 4}" class="label" text-anchor="end">${esc(line.label)}</text>`,
      );
      if (line.status !== 'ok') {
        const why = (line.reason ?? line.status).split('\n')[0]!;
        body.push(`<text x="${barLeft + 4}" y="${cy + 4}" class="na">${esc(why.slice(0, 150))}</text>`);
        y += rowH;
        continue;
      }
      const v = line.throughput.msgPerSec;
      const color = colors[line.family];
      const end = x(v);
      if (line.family === 'limit') {
        body.push(
          `<rect x="${barLeft}" y="${y + 3}" width="${Math.max(1, end - barLeft)}" height="${rowH - 6}" fill="url(#hatch)" stroke="${color}"/>`,
        );
      } else {
        body.push(
          `<rect x="${barLeft}" y="${y + 3}" width="${Math.max(1, end - barLeft)}" height="${rowH - 6}" fill="${color}" rx="2"/>`,
        );
      }
      let text = `${rate(v)}${line.family === 'micro' ? ' calls' : ''}/s · ${mb(line.throughput.mbPerSec)} MB/s`;
      if (line.family === 'tidemq') {
        text += ` · vs best peer ${ratio(line.vsBestPeer?.ratio)} · vs limit ${ratio(line.vsLimit?.ratio)}`;
      }
      if (!line.check.passed) text += ' · CHECK FAILED';
      body.push(
        `<text x="${end + 6}" y="${cy + 4}" class="${line.family === 'tidemq' ? 'value strong' : 'value'}">${esc(text)}</text>`,
      );
      const l = line.latencyUs;
      if (l !== null) {
        const [p50, p99, p999, max] = [lx(l.p50), lx(l.p99), lx(l.p999), lx(l.max)];
        body.push(`<line x1="${p50}" y1="${cy}" x2="${p99}" y2="${cy}" stroke="${color}" stroke-width="4"/>`);
        body.push(
          `<line x1="${p99}" y1="${cy}" x2="${max}" y2="${cy}" stroke="${color}" stroke-width="1.5"/>`,
        );
        body.push(`<circle cx="${p50}" cy="${cy}" r="4" fill="${color}"/>`);
        body.push(
          `<rect x="${p99 - 3.5}" y="${cy - 3.5}" width="7" height="7" fill="#fff" stroke="${color}" stroke-width="1.5" transform="rotate(45 ${p99} ${cy})"/>`,
        );
        body.push(
          `<path d="M${p999 - 4},${cy + 4} L${p999 + 4},${cy + 4} L${p999},${cy - 4} Z" fill="#fff" stroke="${color}" stroke-width="1.5"/>`,
        );
        body.push(
          `<line x1="${max}" y1="${cy - 6}" x2="${max}" y2="${cy + 6}" stroke="${color}" stroke-width="2"/>`,
        );
        body.push(
          `<text x="${latTextLeft}" y="${cy + 4}" class="lat">${esc(`p50 ${us(l.p50)} · p99 ${us(l.p99)}`)}</text>`,
        );
      }
      y += rowH;
    }
    axis(rowsTop, y);
    body.push(`<line x1="20" y1="${top}" x2="${W - 20}" y2="${top}" class="sep"/>`);
    y += 10;
  }
  axisLabels(y + 6);
  const height = y + 50;
  const m = ctx.machine;
  const subtitle = `${m.cpus}× ${m.cpuModel} · ${Math.round(m.memoryBytes / 1024 ** 3)} GiB · ${m.filesystem} on ${m.device} · Node ${ctx.node} · commit ${ctx.commit.slice(0, 12)} · ${ctx.runId}`;
  const env = Object.entries(lines[0]?.env ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
<title>tidemq benchmark: throughput and latency of tidemq, its peers and the machine limits</title>
<defs>
<pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#eef0f2"/><line x1="0" y1="0" x2="0" y2="6" stroke="#8c959f" stroke-width="2"/></pattern>
<style>
.title{font-size:22px;font-weight:700;fill:#1f2328}
.sub{font-size:12px;fill:#57606a}
.group{font-size:13px;font-weight:700;fill:#1f2328}
.label{font-size:12px;fill:#1f2328}
.value{font-size:11px;fill:#57606a}
.strong{fill:#0b3d91;font-weight:700}
.lat{font-size:10px;fill:#57606a}
.na{font-size:11px;fill:#8c959f;font-style:italic}
.tick{font-size:10px;fill:#57606a;text-anchor:middle}
.head{font-size:12px;font-weight:700;fill:#1f2328}
.grid{stroke:#d0d7de;stroke-width:0.6;stroke-dasharray:2,3}
.sep{stroke:#d0d7de;stroke-width:1}
</style>
</defs>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="20" y="34" class="title">tidemq benchmark</text>
<text x="20" y="56" class="sub">${esc(subtitle)}</text>
<text x="20" y="74" class="sub">${esc(env === '' ? 'flush policy: store defaults (no TIDEMQ_* set); put scenarios set TIDEMQ_FLUSH=sync themselves' : `env: ${env}`)}</text>
<g transform="translate(20,92)">
<rect x="0" y="0" width="14" height="12" fill="${colors.tidemq}" rx="2"/><text x="20" y="10" class="sub">tidemq</text>
<rect x="80" y="0" width="14" height="12" fill="${colors.peer}" rx="2"/><text x="100" y="10" class="sub">peer (lmdb, better-sqlite3, node fs)</text>
<rect x="320" y="0" width="14" height="12" fill="url(#hatch)" stroke="${colors.limit}"/><text x="340" y="10" class="sub">machine limit (native probe)</text>
<rect x="520" y="0" width="14" height="12" fill="${colors.micro}" rx="2"/><text x="540" y="10" class="sub">micro-benchmark</text>
<text x="700" y="10" class="sub">latency: ● p50  ◆ p99  ▲ p99.9  | max</text>
</g>
<text x="${barLeft}" y="128" class="head">Throughput, messages per second (log scale)</text>
<text x="${latLeft}" y="128" class="head">Latency per call (log scale)</text>
${body.join('\n')}
<text x="20" y="${height - 14}" class="sub">Each scenario ran in a fresh process after a warm-up; ratios are tidemq over the best peer and the machine limit of the same group (n/a: not measured in this run). Details: results.jsonl.</text>
</svg>
`;
}
