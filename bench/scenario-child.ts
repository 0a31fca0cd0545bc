/**
 * One scenario in a fresh process (so no scenario inherits another's heap, JIT state or page
 * cache pressure). argv: <spec JSON> <data dir>. Answers one ScenarioOutcome over IPC, then exits
 * without closing anything the scenario left open (the orchestrator deletes the data dir).
 */
import type { ScenarioOutcome, ScenarioSpec } from './spec.js';

type Impl = (spec: ScenarioSpec, dir: string) => Promise<ScenarioOutcome>;

const kinds: Record<string, () => Promise<Impl>> = {
  'tidemq-append': async () => (await import('./scenarios/append.js')).tidemqAppend,
  'tidemq-put': async () => (await import('./scenarios/put.js')).tidemqPut,
  'tidemq-scan': async () => (await import('./scenarios/read.js')).tidemqScan,
  'tidemq-get': async () => (await import('./scenarios/read.js')).tidemqGet,
  'tidemq-recovery': async () => (await import('./scenarios/recovery.js')).tidemqRecovery,
  'tidemq-read-queue': async () => (await import('./scenarios/queue.js')).tidemqReadQueue,
  'tidemq-dispatch': async () => (await import('./scenarios/queue.js')).tidemqDispatch,
  'tidemq-rebuild': async () => (await import('./scenarios/queue.js')).tidemqRebuild,
  'tidemq-key-lookup': async () => (await import('./scenarios/queue.js')).tidemqKeyLookup,
  'server-send': async () => (await import('./scenarios/server.js')).serverSend,
  'server-receive': async () => (await import('./scenarios/server.js')).serverReceive,
  'tidemq-broker-e2e': async () => (await import('./scenarios/broker.js')).tidemqBrokerE2e,
  'tidemq-broker-delay-burst': async () => (await import('./scenarios/broker.js')).tidemqBrokerDelayBurst,
  'lmdb-async': async () => (await import('./peers/lmdb.js')).lmdbAsync,
  'lmdb-durable': async () => (await import('./peers/lmdb.js')).lmdbDurable,
  'lmdb-scan': async () => (await import('./peers/lmdb.js')).lmdbScan,
  'lmdb-get': async () => (await import('./peers/lmdb.js')).lmdbGet,
  'sqlite-write': async () => (await import('./peers/sqlite.js')).sqliteWrite,
  'sqlite-scan': async () => (await import('./peers/sqlite.js')).sqliteScan,
  'sqlite-get': async () => (await import('./peers/sqlite.js')).sqliteGet,
  'fs-write': async () => (await import('./peers/fs.js')).fsWrite,
  'limit-memcpy': async () => (await import('./limits/probes.js')).limitMemcpy,
  'limit-group-commit': async () => (await import('./limits/probes.js')).limitGroupCommit,
  'limit-broker-pipeline': async () => (await import('./limits/broker-pipeline.js')).limitBrokerPipeline,
  'micro-crc32': async () => (await import('./micro/micro.js')).microCrc32,
  'micro-record': async () => (await import('./micro/micro.js')).microRecord,
};

export function knownKinds(): string[] {
  return Object.keys(kinds);
}

async function main(): Promise<void> {
  const [specJson, dir] = process.argv.slice(2);
  const spec = JSON.parse(specJson!) as ScenarioSpec;
  let outcome: ScenarioOutcome;
  try {
    const load = kinds[spec.kind];
    if (load === undefined) throw new Error(`unknown scenario kind '${spec.kind}'`);
    outcome = await (await load())(spec, dir!);
  } catch (err) {
    outcome = {
      status: 'failed',
      reason: String((err as Error)?.stack ?? err),
      ops: 0,
      bytes: 0,
      elapsedMs: 0,
      check: { passed: false, description: 'the scenario threw' },
      method: '',
      extra: {},
    };
  }
  const message = { type: 'result', outcome };
  if (process.send === undefined) {
    process.stdout.write(`${JSON.stringify(message)}\n`);
    process.exit(0);
  }
  process.send(message, () => process.exit(0));
}

await main();
