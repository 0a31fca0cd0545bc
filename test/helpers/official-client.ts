// Shared by the server tests: a `tidemq serve` in-process on a free loopback port, and the
// official rocketmq-client-nodejs clients against it, shut down (clients first) at teardown.

import { createRequire } from 'node:module';
import {
  type MessageView,
  Producer,
  type ProducerOptions,
  PushConsumer,
  type PushConsumerOptions,
  SimpleConsumer,
} from 'rocketmq-client-nodejs';
import { type ServerOptions, TidemqServer } from '../../src/server/server.js';
import { SMALL_STORE, tempDir } from './broker-env.js';

// rocketmq-client-nodejs 1.0.8 gives every push consume service its own default file logger
// (egg-logger), whose flush interval is never cleared: a process that ran a PushConsumer never
// exits. Unref that interval (the logger still flushes while anything else runs).
{
  const clientRequire = createRequire(createRequire(import.meta.url).resolve('rocketmq-client-nodejs'));
  const { FileBufferTransport } = clientRequire('egg-logger') as {
    FileBufferTransport: { prototype: { _createInterval(): NodeJS.Timeout } };
  };
  const create = FileBufferTransport.prototype._createInterval;
  FileBufferTransport.prototype._createInterval = function (this: unknown): NodeJS.Timeout {
    return create.call(this).unref();
  };
}

const silent = { info() {}, warn() {}, error() {}, debug() {} };
const loud = {
  info: (...a: unknown[]) => console.error('client info', ...a),
  warn: (...a: unknown[]) => console.error('client warn', ...a),
  error: (...a: unknown[]) => console.error('client error', ...a),
  debug() {},
};
/** The clients' logger: silent unless TIDEMQ_CLIENT_LOG=1. */
export const quiet = process.env.TIDEMQ_CLIENT_LOG === '1' ? loud : silent;

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface Harness {
  server: TidemqServer;
  endpoints: string;
  producer(options?: Partial<ProducerOptions>): Promise<Producer>;
  simple(group: string, topic: string, filter?: string, awaitMs?: number): Promise<SimpleConsumer>;
  push(options: Omit<PushConsumerOptions, 'endpoints' | 'namespace'>): Promise<PushConsumer>;
  /** Shut a client down now (and not again at teardown). */
  shutdown(client: { shutdown(): Promise<unknown> }): Promise<void>;
}

export async function startHarness(
  t: Teardown & Parameters<typeof tempDir>[0],
  options: Partial<ServerOptions> = {},
): Promise<Harness> {
  const server = await TidemqServer.start({
    dir: tempDir(t),
    host: '127.0.0.1',
    port: 0,
    ...options,
    broker: { ...(options.broker ?? {}), store: SMALL_STORE },
  });
  const endpoints = `127.0.0.1:${server.port}`;
  const clients = new Set<{ shutdown(): Promise<unknown> }>();
  t.teardown(async () => {
    await Promise.allSettled([...clients].map((c) => c.shutdown()));
    quiet.info('clients shut down');
    await server.close();
    quiet.info('server closed');
  });
  const started = async <C extends { startup(): Promise<void>; shutdown(): Promise<unknown> }>(
    c: C,
  ): Promise<C> => {
    clients.add(c);
    await c.startup();
    return c;
  };
  return {
    server,
    endpoints,
    producer: (o = {}) => started(new Producer({ endpoints, namespace: '', logger: quiet, ...o })),
    simple: (group, topic, filter = '*', awaitMs = 2000) =>
      started(
        new SimpleConsumer({
          endpoints,
          namespace: '',
          consumerGroup: group,
          subscriptions: new Map([[topic, filter]]),
          awaitDuration: awaitMs,
          logger: quiet,
        }),
      ),
    push: (o) => started(new PushConsumer({ endpoints, namespace: '', logger: quiet, ...o })),
    shutdown: async (c) => {
      clients.delete(c);
      await c.shutdown();
    },
  };
}

/** Receive until `n` messages arrived or `withinMs` passed. */
export async function receiveN(
  c: SimpleConsumer,
  n: number,
  invisibleMs: number,
  withinMs = 15_000,
): Promise<MessageView[]> {
  const got: MessageView[] = [];
  const until = Date.now() + withinMs;
  while (got.length < n && Date.now() < until) got.push(...(await c.receive(16, invisibleMs)));
  return got;
}

/** Resolve once `check()` holds, polling; reject with `what` after `withinMs`. */
export async function until(check: () => boolean, withinMs: number, what: string): Promise<void> {
  const end = Date.now() + withinMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${withinMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
