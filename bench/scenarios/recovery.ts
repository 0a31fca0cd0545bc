/**
 * tidemq: time to reopen a store whose writer was SIGKILLed with `writtenBytes` appended since
 * the last checkpoint. A writer child appends in async mode with the flusher held off, reports
 * its wrotePosition, and is SIGKILLed; the dirty pages survive in the page cache (as after a
 * process crash, not a power loss), so recovery must validate and keep every record.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { nowNs } from '../measure.js';
import { num } from '../outcome.js';
import type { ScenarioOutcome, ScenarioSpec } from '../spec.js';
import { openStore } from '../store-api.js';

interface Written {
  type: 'written';
  wrotePosition: number;
  flushedPosition: number;
  appended: number;
}
type WriterMessage = Written | { type: 'error'; message: string };

/** Env that keeps the writer's flusher from flushing (and checkpointing) during the run. */
const holdFlushEnv = {
  TIDEMQ_FLUSH: 'async',
  TIDEMQ_FLUSH_INTERVAL_MS: '3600000',
  TIDEMQ_FLUSH_THOROUGH_INTERVAL_MS: '3600000',
};

function runWriter(dir: string, writtenBytes: number, bodyBytes: number): Promise<WriterMessage> {
  const script = fileURLToPath(new URL('./recovery-writer.js', import.meta.url));
  const child = spawn(process.execPath, [script, dir, String(writtenBytes), String(bodyBytes)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...holdFlushEnv },
  });
  return new Promise((resolve, reject) => {
    let answer: WriterMessage | undefined;
    child.on('message', (m: WriterMessage) => {
      answer = m;
      child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (answer !== undefined && (answer.type !== 'written' || signal === 'SIGKILL')) resolve(answer);
      else reject(new Error(`recovery writer exited (code ${code}, signal ${signal}) without reporting`));
    });
  });
}

export async function tidemqRecovery(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const writtenBytes = num(spec, 'writtenBytes');
  const bodyBytes = num(spec, 'bodyBytes');
  const written = await runWriter(dir, writtenBytes, bodyBytes);
  if (written.type === 'error') throw new Error(`recovery writer failed: ${written.message}`);

  const t0 = nowNs();
  const store = await openStore(dir);
  const openNs = nowNs() - t0;
  const stats = store.stats();
  const rec = stats.recovery;
  const validatedBytes = rec.endOffset - rec.fromOffset;
  const passed =
    !rec.cleanShutdown &&
    rec.endOffset === written.wrotePosition &&
    rec.truncatedBytes === 0 &&
    stats.wrotePosition === written.wrotePosition;
  await store.close();
  const openUs = openNs / 1000;
  return {
    status: 'ok',
    ops: rec.records,
    bytes: validatedBytes,
    elapsedMs: openNs / 1e6,
    latency: {
      unit: 'MessageStore.open()',
      count: 1,
      p50Us: openUs,
      p99Us: openUs,
      p999Us: openUs,
      maxUs: openUs,
      meanUs: openUs,
    },
    check: {
      passed,
      description:
        "reopen saw an unclean shutdown, validated up to exactly the killed writer's wrotePosition, and truncated nothing",
      cleanShutdown: rec.cleanShutdown,
      writerWrotePosition: written.wrotePosition,
      writerFlushedPosition: written.flushedPosition,
      recoveredEndOffset: rec.endOffset,
      fromOffset: rec.fromOffset,
      truncatedBytes: rec.truncatedBytes,
      recordsValidated: rec.records,
      writerAppended: written.appended,
    },
    method:
      'one reopen after SIGKILL, page cache warm (process crash, not power loss); throughput = validated records and bytes / open() time',
    extra: { storeReportedRecoveryMs: rec.durationMs, writerEnv: JSON.stringify(holdFlushEnv) },
  };
}
