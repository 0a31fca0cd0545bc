/** Temp store directories, the repository root, and commit log file names for tests. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root: this file is dist/test/helpers/fs.js once compiled. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Compiled test file or helper script, by its path under test/ without extension: 'crash/putter-child'. */
export function compiledTest(name: string): string {
  return path.join(repoRoot, 'dist', 'test', `${name}.js`);
}

/**
 * A file in the project's shared fixtures, which live in `shared/fixtures/` beside the
 * repository (CI clones the repository with shared/ next to it). A checkout nested one level
 * deeper (a worktree) finds it one more level up.
 */
export function sharedFixture(name: string): string {
  const tried: string[] = [];
  for (let up = 1; up <= 3; up++) {
    const candidate = path.join(repoRoot, ...Array(up).fill('..'), 'shared', 'fixtures', name);
    if (existsSync(candidate)) return candidate;
    tried.push(path.relative(repoRoot, candidate));
  }
  throw new Error(`shared fixture ${name} not found beside the repository (tried ${tried.join(', ')})`);
}

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

/** A fresh temp directory removed when the test ends. */
export function tempDir(t: Teardown, prefix = 'tidemq-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** RocketMQ segment file name: the start offset, zero-padded to 20 digits. */
export function segmentName(startOffset: number): string {
  return String(startOffset).padStart(20, '0');
}

/** Path of the commit log segment holding physicalOffset. */
export function segmentPathFor(dir: string, physicalOffset: number, segmentBytes: number): string {
  const start = physicalOffset - (physicalOffset % segmentBytes);
  return path.join(dir, 'commitlog', segmentName(start));
}
