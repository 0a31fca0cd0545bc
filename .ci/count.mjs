// Prints the closing line CI reads, "N passed, N failed", from tap's own summary line
// ("# { total: 12, pass: 11, fail: 1, skip: 0 }"). A failing `npm test` with no failed assertion
// (build, lint or typecheck failed first) counts as one failure.
import { readFileSync } from 'node:fs';

const [, , logPath, statusArg] = process.argv;
const status = Number(statusArg ?? 1);
const log = readFileSync(logPath, 'utf8');
let passed = 0;
let failed = 0;
for (const m of log.matchAll(/^# \{ total: (\d+)(.*)\}$/gm)) {
  const fields = Object.fromEntries([...m[2].matchAll(/(\w+): (\d+)/g)].map((f) => [f[1], Number(f[2])]));
  passed = fields.pass ?? 0;
  failed = fields.fail ?? 0;
}
if (status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(status === 0 ? 0 : 1);
