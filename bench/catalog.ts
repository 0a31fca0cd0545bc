/**
 * The scenario list: tidemq, its peers and the machine's limits, grouped so that every member of
 * a group measures the same work (same body size, same durability, same concurrency).
 */
import { type BenchOptions, matchesAny } from './options.js';
import type { Family, ParamValue, ScenarioSpec } from './spec.js';
import { benchTopic, recordBytesFor, UNIQ_KEY_PROPERTY_BYTES } from './store-api.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** Messages per batch for tidemq batch appends and the peers' transactions/writes. */
export const batchSize = 64;

interface Defaults {
  appendSizes: number[];
  putSizes: number[];
  serverSizes: number[];
  readSizes: number[];
  concurrency: number[];
  crcSizes: number[];
  maxBytes: number;
  recoveryBytes: number;
}

function defaults(o: BenchOptions): Defaults {
  if (o.quick) {
    return {
      appendSizes: o.sizes ?? [100],
      putSizes: o.sizes ?? [100],
      serverSizes: o.sizes ?? [100],
      readSizes: o.sizes ?? [100],
      concurrency: o.concurrency ?? [8],
      crcSizes: o.sizes ?? [1024],
      maxBytes: 64 * MiB,
      recoveryBytes: 16 * MiB,
    };
  }
  return {
    appendSizes: o.sizes ?? [100, 1024, 4096, 65536],
    putSizes: o.sizes ?? [100, 1024],
    serverSizes: o.sizes ?? [100, 1024],
    readSizes: o.sizes ?? [100, 1024],
    concurrency: o.concurrency ?? [1, 8, 64, 256],
    crcSizes: o.sizes ?? [100, 1024, 65536],
    maxBytes: 2 * GiB,
    recoveryBytes: GiB,
  };
}

export function sizeLabel(bytes: number): string {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

export function buildCatalog(o: BenchOptions): ScenarioSpec[] {
  const d = defaults(o);
  const list: ScenarioSpec[] = [];
  const add = (
    family: Family,
    name: string,
    group: string,
    kind: string,
    label: string,
    params: Record<string, ParamValue>,
    extra: Partial<ScenarioSpec> = {},
  ) => {
    list.push({
      name,
      family,
      group,
      kind,
      label,
      params,
      envOverrides: {},
      warmupMs: o.warmupMs,
      durationMs: o.durationMs,
      maxBytes: d.maxBytes,
      ...extra,
    });
  };

  if (!o.micro) {
    for (const size of d.appendSizes) {
      const group = `append/${size}`;
      const s = sizeLabel(size);
      const p = { bodyBytes: size };
      add('tidemq', `tidemq/append/single/${size}`, group, 'tidemq-append', `tidemq append() ${s}`, {
        ...p,
        batch: 1,
      });
      add(
        'tidemq',
        `tidemq/append/batch${batchSize}/${size}`,
        group,
        'tidemq-append',
        `tidemq batch×${batchSize} ${s}`,
        {
          ...p,
          batch: batchSize,
        },
      );
      add('peer', `peer/lmdb/append/${size}`, group, 'lmdb-async', `lmdb put() async ${s}`, {
        ...p,
        batch: batchSize,
        pipeline: 32,
      });
      add('peer', `peer/sqlite-normal/append/${size}`, group, 'sqlite-write', `sqlite WAL NORMAL ${s}`, {
        ...p,
        batch: batchSize,
        synchronous: 'NORMAL',
      });
      add('peer', `peer/fs/append/${size}`, group, 'fs-write', `fs writev ${s}`, {
        ...p,
        batch: batchSize,
        fdatasync: false,
      });
      add('limit', `limit/memcpy/${size}`, group, 'limit-memcpy', `memcpy ceiling ${s}`, {
        ...p,
        recordBytes: recordBytesFor(size),
      });
    }

    for (const size of d.putSizes) {
      for (const c of d.concurrency) {
        const group = `put/${size}/c${c}`;
        const s = `${sizeLabel(size)} ×${c}`;
        const p = { bodyBytes: size, concurrency: c };
        add('tidemq', `tidemq/put/c${c}/${size}`, group, 'tidemq-put', `tidemq put() sync ${s}`, p, {
          envOverrides: { TIDEMQ_FLUSH: 'sync' },
        });
        add('peer', `peer/lmdb-durable/put/c${c}/${size}`, group, 'lmdb-durable', `lmdb durable ${s}`, p);
        add('peer', `peer/sqlite-full/put/c${c}/${size}`, group, 'sqlite-write', `sqlite WAL FULL ${s}`, {
          ...p,
          batch: c,
          synchronous: 'FULL',
        });
        add('peer', `peer/fs-fdatasync/put/c${c}/${size}`, group, 'fs-write', `fs writev+fdatasync ${s}`, {
          ...p,
          batch: c,
          fdatasync: true,
        });
        add('limit', `limit/group-commit/c${c}/${size}`, group, 'limit-group-commit', `C group commit ${s}`, {
          ...p,
          recordBytes: recordBytesFor(size),
        });
      }
    }

    for (const size of d.readSizes) {
      const s = sizeLabel(size);
      // more than the CPU caches hold: 64 MiB of bodies, at most 250 k messages (prefill time)
      const messages = o.quick ? 20_000 : Math.max(1000, Math.min(250_000, Math.floor((64 * MiB) / size)));
      const p = { bodyBytes: size, messages };
      add('tidemq', `tidemq/read/scan/${size}`, `scan/${size}`, 'tidemq-scan', `tidemq scan() ${s}`, p);
      add(
        'tidemq',
        `tidemq/read/queue/${size}`,
        `scan/${size}`,
        'tidemq-read-queue',
        `tidemq read() queue ${s}`,
        p,
      );
      add('peer', `peer/lmdb/scan/${size}`, `scan/${size}`, 'lmdb-scan', `lmdb getRange() ${s}`, p);
      if (!o.quick) {
        add('peer', `peer/sqlite/scan/${size}`, `scan/${size}`, 'sqlite-scan', `sqlite SELECT range ${s}`, p);
      }
      add('tidemq', `tidemq/read/get/${size}`, `get/${size}`, 'tidemq-get', `tidemq get() random ${s}`, p);
      add('peer', `peer/lmdb/get/${size}`, `get/${size}`, 'lmdb-get', `lmdb get() random ${s}`, p);
      if (!o.quick) {
        add('peer', `peer/sqlite/get/${size}`, `get/${size}`, 'sqlite-get', `sqlite SELECT by id ${s}`, p);
      }
    }

    add(
      'tidemq',
      'tidemq/recovery',
      'recovery',
      'tidemq-recovery',
      `tidemq reopen after SIGKILL, ${sizeLabel(d.recoveryBytes)}`,
      { bodyBytes: 1024, writtenBytes: d.recoveryBytes },
    );

    // Issue 3: dispatch to consume queues and the key index while appending, rebuild, key lookup.
    const queueMessages = o.quick ? 20_000 : 250_000;
    add('tidemq', 'tidemq/dispatch/100', 'dispatch', 'tidemq-dispatch', 'tidemq append + dispatch, lag', {
      bodyBytes: 100,
    });
    add(
      'tidemq',
      'tidemq/rebuild/1024',
      'rebuild',
      'tidemq-rebuild',
      `tidemq rebuild, ${queueMessages / 1000} k × 1 KiB`,
      {
        bodyBytes: 1024,
        messages: queueMessages,
      },
    );
    add(
      'tidemq',
      'tidemq/key-lookup/100',
      'key',
      'tidemq-key-lookup',
      `tidemq queryByKey(), ${queueMessages / 1000} k keys`,
      {
        bodyBytes: 100,
        messages: queueMessages,
      },
    );

    addServerScenarios(add, d.serverSizes, o);
    // Issue 5: the embedded broker end to end, and a burst of timed messages due together.
    // A broker is a long-running process: its rows time the steady state, after V8 has compiled
    // the send, dispatch, receive and ack paths and the first segment roll, flush and consume
    // queue file are behind it (flat out, the rate climbs for ~1-1.5 s in a fresh process; the
    // warm-up's own rate is reported too, as warmupMsgPerSec).
    const brokerTiming = { warmupMs: o.quick ? o.warmupMs : Math.max(o.warmupMs, BROKER_MIN_WARMUP_MS) };
    add(
      'tidemq',
      'tidemq/broker/e2e/100',
      'broker',
      'tidemq-broker-e2e',
      'broker send → receive → ack 100 B',
      {
        bodyBytes: 100,
        batch: o.quick ? 64 : 256,
        queues: 4,
        receivers: 4,
        api: 'message',
      },
      brokerTiming,
    );
    add(
      'tidemq',
      'tidemq/broker/e2e-batch/100',
      'broker',
      'tidemq-broker-e2e',
      'broker sendBatch → receive → ackBatch 100 B',
      {
        bodyBytes: 100,
        batch: o.quick ? 64 : 256,
        queues: 4,
        receivers: 4,
        api: 'batch',
      },
      brokerTiming,
    );
    // The same pipeline with almost no work per message (limits/broker-pipeline.ts), in memory
    // already and growing into fresh pages as a store does; each also timed at the batched row's
    // half-peak rate when that ran first.
    for (const pages of ['warm', 'fresh']) {
      add(
        'limit',
        `limit/broker-pipeline/${pages}/100`,
        'broker',
        'limit-broker-pipeline',
        `pipeline floor 100 B, ${pages === 'warm' ? 'memory in place' : 'fresh pages'}`,
        {
          bodyBytes: 100,
          recordBytes: recordBytesFor(100, benchTopic, UNIQ_KEY_PROPERTY_BYTES),
          batch: o.quick ? 64 : 256,
          pages,
          atRateOf: 'tidemq/broker/e2e-batch/100',
        },
        brokerTiming,
      );
    }
    const burst = o.quick ? 5000 : 100_000;
    add(
      'tidemq',
      'tidemq/broker/delay-burst',
      'delay',
      'tidemq-broker-delay-burst',
      `broker ${burst / 1000} k timed messages due in one second`,
      { bodyBytes: 100, messages: burst, queues: 8, leadMs: o.quick ? 1500 : 8000 },
    );
  }

  for (const size of d.crcSizes) {
    const group = `micro/crc32/${size}`;
    const p = { bytes: size };
    add('micro', `micro/crc32/native/${size}`, group, 'micro-crc32', `native.crc32 ${sizeLabel(size)}`, {
      ...p,
      impl: 'native',
    });
    add('micro', `micro/crc32/js/${size}`, group, 'micro-crc32', `JS table CRC32 ${sizeLabel(size)}`, {
      ...p,
      impl: 'js',
    });
    add('micro', `micro/crc32/store/${size}`, group, 'micro-crc32', `store bodyCrc() ${sizeLabel(size)}`, {
      ...p,
      impl: 'store',
    });
  }
  for (const size of o.quick ? d.readSizes : d.putSizes) {
    const group = `micro/record/${size}`;
    add('micro', `micro/record/encode/${size}`, group, 'micro-record', `record encode ${sizeLabel(size)}`, {
      bodyBytes: size,
      op: 'encode',
    });
    add('micro', `micro/record/decode/${size}`, group, 'micro-record', `record decode ${sizeLabel(size)}`, {
      bodyBytes: size,
      op: 'decode',
    });
  }

  return list.filter((spec) => matchesAny(spec.name, o.scenarios));
}

type Add = (
  family: Family,
  name: string,
  group: string,
  kind: string,
  label: string,
  params: Record<string, ParamValue>,
  extra?: Partial<ScenarioSpec>,
) => void;

/** The broker rows' warm-up (and their pipeline floor's), unless --quick. */
export const BROKER_MIN_WARMUP_MS = 2000;

/**
 * Issue 6: the server through the official client over loopback, tidemq against the protocol's
 * ceiling (a grpc-js server that only answers), same client and load shape in each pair.
 */
function addServerScenarios(add: Add, sizes: number[], o: BenchOptions): void {
  // --quick only proves the paths (fewer clients start faster); the figures come from the full run
  const shape = { producers: o.quick ? 2 : serverShape.producers, inflight: serverShape.sendsInFlight };
  // The client's own code (google-protobuf, grpc-js) needs about a thousand calls to warm up; with
  // the default 250 ms the window would time a cold client and hide the server's differences.
  const timing = { warmupMs: o.quick ? o.warmupMs : Math.max(o.warmupMs, serverShape.minWarmupMs) };
  for (const size of sizes) {
    const s = sizeLabel(size);
    const send = `server-send/${size}`;
    const p = { bodyBytes: size, ...shape };
    add(
      'tidemq',
      `tidemq/server/send/${size}`,
      send,
      'server-send',
      `tidemq serve: send ${s}`,
      {
        ...p,
        server: 'tidemq',
      },
      timing,
    );
    add(
      'limit',
      `limit/grpc-ceiling/send/${size}`,
      send,
      'server-send',
      `gRPC ceiling: send ${s}`,
      {
        ...p,
        server: 'ceiling',
      },
      timing,
    );
    const receive = `server-receive/${size}`;
    const r = {
      bodyBytes: size,
      consumers: o.quick ? 2 : serverShape.consumers,
      inflight: serverShape.receivesInFlight,
      // enough that the window cannot drain the topic (the check fails if a receive comes back empty)
      prefill: o.quick ? 4_000 : 60_000,
    };
    add(
      'tidemq',
      `tidemq/server/receive/${size}`,
      receive,
      'server-receive',
      `tidemq serve: receive+ack ${s}`,
      {
        ...r,
        server: 'tidemq',
      },
      timing,
    );
    add(
      'limit',
      `limit/grpc-ceiling/receive/${size}`,
      receive,
      'server-receive',
      `gRPC ceiling: receive+ack ${s}`,
      { ...r, server: 'ceiling' },
      timing,
    );
  }
}

/** Client load of the server scenarios: enough in flight to reach the peak on 2 cores. */
export const serverShape = {
  producers: 4,
  sendsInFlight: 16,
  consumers: 4,
  receivesInFlight: 2,
  minWarmupMs: 1500,
};

/** A person's title for a comparison group key. */
export function groupTitle(group: string): string {
  const [kind, a, b] = group.split('/');
  const size = a !== undefined && /^\d+$/.test(a) ? sizeLabel(Number(a)) : '';
  switch (kind) {
    case 'append':
      return `Append, flush policy from env — ${size} bodies`;
    case 'put':
      return `Durable put (sync flush, group commit) — ${size} bodies, ${b?.slice(1)} concurrent putters`;
    case 'scan':
      return `Sequential read — ${size} bodies`;
    case 'get':
      return `Random read — ${size} bodies`;
    case 'recovery':
      return 'Recovery after SIGKILL';
    case 'dispatch':
      return 'Dispatch to consume queues while appending at full speed (latency column: dispatch lag)';
    case 'rebuild':
      return 'Rebuild consume queues and key index from the commit log';
    case 'key':
      return 'Key lookup (index file)';
    case 'server-send':
      return `Server send through the official client over loopback — ${size} bodies (vs limit: the gRPC ceiling)`;
    case 'server-receive':
      return `Server receive + ack through the official client over loopback — ${size} bodies (vs limit: the gRPC ceiling)`;
    case 'broker':
      return 'Broker end to end in-process: send → batched receive → ack (latency column: due time of each send to its receive, at half of peak)';
    case 'delay':
      return 'Broker timer: a burst of timed messages due in the same second (latency column: lateness)';
    case 'micro': {
      const n = b !== undefined ? sizeLabel(Number(b)) : '';
      return a === 'crc32' ? `Micro: CRC32 of ${n}` : `Micro: record codec, ${n} bodies`;
    }
    default:
      return group;
  }
}
