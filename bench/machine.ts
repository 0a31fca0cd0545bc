/** What the figures were measured on: CPU, memory, the data directory's filesystem, Node, commit. */
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import os from 'node:os';
import type { MachineInfo } from './spec.js';

/** The mount (from /proc/mounts) holding `dir`: longest mount point that prefixes its real path. */
function mountOf(dir: string): { filesystem: string; device: string } {
  try {
    const real = realpathSync(dir);
    let best = { point: '', filesystem: 'unknown', device: 'unknown' };
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [device, point, filesystem] = line.split(' ');
      if (device === undefined || point === undefined || filesystem === undefined) continue;
      const prefix = point === '/' ? '/' : `${point}/`;
      if ((real === point || real.startsWith(prefix)) && point.length > best.point.length) {
        best = { point, filesystem, device };
      }
    }
    return { filesystem: best.filesystem, device: best.device };
  } catch {
    return { filesystem: 'unknown', device: 'unknown' };
  }
}

export function machineInfo(dataDir: string): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpus: cpus.length,
    memoryBytes: os.totalmem(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    dataDir,
    ...mountOf(dataDir),
  };
}

/** `git rev-parse HEAD` of the package (with "-dirty" for uncommitted changes), or "unknown". */
export function gitCommit(cwd: string): string {
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return dirty === '' ? head : `${head}-dirty`;
  } catch {
    return 'unknown';
  }
}

/** TIDEMQ_* variables as a child will see them. */
export function tidemqEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith('TIDEMQ_') && value !== undefined) out[key] = value;
  }
  return out;
}
