/** `tidemq serve` (the compiled CLI) as a child process, for server tests that kill or load it. */
import path from 'node:path';
import { type RunningChild, startChild } from './child.js';
import { repoRoot } from './fs.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

export interface ServeChild {
  child: RunningChild;
  port: number;
}

/**
 * Start `tidemq serve` on dir and port (0: any free port) with TIDEMQ_DIR/TIDEMQ_PORT and the
 * given flush mode (default: TIDEMQ_FLUSH removed, so the store's default); resolves once it is
 * serving.
 */
export async function startServe(dir: string, port: number, flush?: 'sync' | 'async'): Promise<ServeChild> {
  const env: NodeJS.ProcessEnv = { ...process.env, TIDEMQ_DIR: dir, TIDEMQ_PORT: String(port) };
  delete env.TIDEMQ_FLUSH;
  if (flush) env.TIDEMQ_FLUSH = flush;
  const child = startChild(CLI, ['serve', '--host', '127.0.0.1'], { env });
  const line = await child.waitForLine((l) => l.includes('serving'), 30_000);
  return { child, port: Number(/:(\d+) /.exec(line)?.[1]) };
}
