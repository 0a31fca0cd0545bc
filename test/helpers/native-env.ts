// Shared by the native tests: the repository root (found from this file's location, so tests
// run the same from dist/ in any checkout) and temporary directories removed at teardown.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MapFlags, native } from '../../src/native.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** dist/test/helpers/native-env.js -> ../../..; test/helpers/native-env.ts -> ../.. */
export const repoRoot = here.split(path.sep).includes('dist')
  ? path.resolve(here, '..', '..', '..')
  : path.resolve(here, '..', '..');

/**
 * The real RocketMQ 4.x segment in shared/fixtures beside the repository (CI: a clone with
 * shared/ next to it). A git worktree one level deeper finds it one directory further up.
 */
export const rocketmqSegmentPath = (() => {
  const name = 'rocketmq-4x-commitlog-00000000000000000000.bin';
  const candidates = [
    path.join(repoRoot, '..', 'shared', 'fixtures', name),
    path.join(repoRoot, '..', '..', 'shared', 'fixtures', name),
  ];
  return candidates.find((candidate) => existsSync(candidate)) ?? candidates[0]!;
})();

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

/** A fresh directory under os.tmpdir(), removed when the test ends. */
export function tempDir(t: Teardown, prefix = 'tidemq-native-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** mulberry32 (test/helpers/rng.ts): a small seeded PRNG, so random tests can print and replay their seed. */
export { mulberry32 as seededRandom } from './rng.js';

/** TIDEMQ_SEED from the environment, else a fresh one. */
export function testSeed(): number {
  const fromEnv = process.env.TIDEMQ_SEED;
  return fromEnv !== undefined && fromEnv !== ''
    ? Number(fromEnv) >>> 0
    : (Date.now() ^ (Math.random() * 2 ** 32)) >>> 0;
}

/** The names of this process's threads (Linux /proc), or undefined where there is no /proc. */
/** Poll `check` every 10 ms until it holds (true) or `ms` have passed (false). */
export async function until(check: () => boolean, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

export function threadNames(): string[] | undefined {
  if (!existsSync('/proc/self/task')) return undefined;
  const names: string[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      names.push(readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim());
    } catch {
      // the thread ended meanwhile
    }
  }
  return names;
}

/**
 * Resident kB of this process's writable shared mapping of `file` (the Rss line of its
 * /proc/self/smaps entry; a dispatch worker's read-only mapping of the same file is skipped), or
 * -1 when there is none.
 */
export function mappedRssKb(file: string): number {
  const lines = readFileSync('/proc/self/smaps', 'utf8').split('\n');
  const at = lines.findIndex((line) => line.endsWith(` ${file}`) && line.split(/\s+/)[1] === 'rw-s');
  const rss = lines.slice(at + 1).find((line) => line.startsWith('Rss:'));
  return at < 0 || rss === undefined ? -1 : Number(rss.split(/\s+/)[1]);
}

/**
 * Bytes of `file` in the page cache, touched by anyone or not (mincore over a read-only mapping
 * of the whole file): what readahead brought in shows here.
 */
export function cachedBytes(file: string): number {
  const mapping = native.mapFile(file, 0, MapFlags.readOnly);
  try {
    return native.residentBytes(mapping, 0, mapping.byteLength);
  } finally {
    native.releaseMapping(mapping);
  }
}

let pageBytes = 0;
/** The system's page size (getconf, asked once; 4 KiB on x86-64, 64 KiB on some arm64 kernels). */
export function pageSize(): number {
  if (pageBytes === 0) pageBytes = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }));
  return pageBytes;
}

/**
 * Whether the first write into a preallocated file in `dir` reads ahead over its never-written
 * blocks (ext4 and xfs do, as far as the device's read_ahead_kb; tmpfs does not).
 */
function readaheadOnFirstWrite(dir: string): boolean {
  const file = path.join(dir, 'readahead-probe');
  const mapping = native.mapFile(file, 1 << 20, MapFlags.create);
  try {
    new Uint8Array(mapping)[0] = 1;
    return native.residentBytes(mapping, 0, 1 << 20) > pageSize();
  } finally {
    native.releaseMapping(mapping);
    rmSync(file);
  }
}

/**
 * Tests of what stops readahead have nothing to see where there is none: plan no assertions and
 * say why (the caller returns), when the first write into a preallocated file in `dir` reads
 * nothing ahead.
 */
export function skipWithoutReadahead(t: { plan(n: number, reason?: string): void }, dir: string): boolean {
  if (readaheadOnFirstWrite(dir)) return false;
  t.plan(0, 'the first write into a preallocated file reads nothing ahead on this file system');
  return true;
}
