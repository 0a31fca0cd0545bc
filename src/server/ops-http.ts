/**
 * The operations HTTP port of `tidemq serve` (--metrics-port): Prometheus text on /metrics and a
 * small JSON admin API used by `tidemq admin --server`:
 *
 *   GET  /metrics                    Prometheus exposition
 *   GET  /admin/topics               topics
 *   GET  /admin/groups               consumer groups: settings, topics, lag, in-flight
 *   GET  /admin/lag[?group=&topic=]  per-queue consumer offset, max offset, lag, in-flight
 *   POST /admin/topics               { name, queues?, type? }   create or grow a topic
 *   POST /admin/offsets/reset        { group, topic, to }       reset a group's offsets
 *   POST /admin/groups/configure     { group, maxDeliveryAttempts?, fifo?, retryBackoffMs?, reset? }
 *                                    change a group's settings (its clients get new Settings)
 *
 * Answers are JSON; an error is { error: { code, message } } with 400 (bad request), 401, 403,
 * 404 (no such topic or path), 405, 413, 415, 503 (shutting down) or 500.
 *
 * Access: with an admin token (`--admin-token` / TIDEMQ_ADMIN_TOKEN), every /admin request must
 * carry `Authorization: Bearer <token>` (compared in constant time) and changes are accepted from
 * any host. Without one, reads are open to whoever reaches the port and changes (POST) come from
 * loopback addresses only: run `tidemq admin --server` on the server's host (or through an SSH
 * tunnel). Either way a change needs `content-type: application/json` and no Origin header (no
 * cross-site POSTs from a browser). /metrics is always open (Prometheus scrapes it).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Broker } from '../broker/broker.js';
import { BrokerError } from '../broker/errors.js';
import { StoreError } from '../errors.js';
import { configureGroup, createTopic, lag, listGroups, listTopics, resetOffset } from './admin.js';
import type { Logger } from './logger.js';
import type { ServerMetrics } from './metrics.js';

const MAX_BODY_BYTES = 64 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface OpsHttpOptions {
  host: string;
  port: number;
  broker: Broker;
  metrics: ServerMetrics;
  logger?: Logger | undefined;
  /** Called after a group's settings changed (the server tells the group's clients). */
  groupChanged?: ((group: string) => void) | undefined;
  /** Bearer token every /admin request must carry; changes from loopback only when absent. */
  adminToken?: string | undefined;
}

export class OpsHttpServer {
  private constructor(
    private readonly server: http.Server,
    readonly port: number,
  ) {}

  static async start(options: OpsHttpOptions): Promise<OpsHttpServer> {
    const server = http.createServer((req, res) => {
      handle(options, req, res).catch((err: unknown) => answerError(options.logger, req, res, err));
    });
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new OpsHttpServer(server, (server.address() as AddressInfo).port);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

async function handle(o: OpsHttpOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const route = `${req.method} ${url.pathname.replace(/\/+$/, '') || '/'}`;
  if (route === 'GET /metrics') {
    const text = await o.metrics.scrape();
    res.writeHead(200, { 'content-type': o.metrics.registry.contentType });
    res.end(text);
    return;
  }
  if (!url.pathname.startsWith('/admin/'))
    throw new HttpError(404, 'NOT_FOUND', `no such path: ${url.pathname}`);
  if (o.adminToken !== undefined) checkToken(req, o.adminToken);
  if (o.broker.closing) throw new HttpError(503, 'SHUTTING_DOWN', 'the server is shutting down.');
  const q = url.searchParams;
  switch (route) {
    case 'GET /admin/topics':
      return json(res, 200, listTopics(o.broker));
    case 'GET /admin/groups':
      return json(res, 200, listGroups(o.broker));
    case 'GET /admin/lag':
      return json(res, 200, lag(o.broker, { group: q.get('group'), topic: q.get('topic') }));
    case 'POST /admin/topics': {
      checkChange(req, o.adminToken !== undefined);
      const topic = createTopic(o.broker, await body(req));
      o.logger?.info({ topic }, 'admin: topic created or updated');
      return json(res, 200, topic);
    }
    case 'POST /admin/offsets/reset': {
      checkChange(req, o.adminToken !== undefined);
      const result = await resetOffset(o.broker, await body(req));
      o.logger?.info({ group: result.group, topic: result.topic, to: result.to }, 'admin: offsets reset');
      return json(res, 200, result);
    }
    case 'POST /admin/groups/configure': {
      checkChange(req, o.adminToken !== undefined);
      const group = await configureGroup(o.broker, await body(req));
      o.groupChanged?.(group.name);
      o.logger?.info({ group }, 'admin: group configured');
      return json(res, 200, group);
    }
    default:
      if (
        [
          '/admin/topics',
          '/admin/groups',
          '/admin/lag',
          '/admin/offsets/reset',
          '/admin/groups/configure',
        ].includes(url.pathname)
      ) {
        throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${url.pathname}.`);
      }
      throw new HttpError(404, 'NOT_FOUND', `no such path: ${url.pathname}`);
  }
}

/** The request names the admin token (401 otherwise, without saying how close it came). */
function checkToken(req: http.IncomingMessage, token: string): void {
  const given = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
  // digests of equal length, so the comparison time says nothing about the token
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  if (!timingSafeEqual(digest(given), digest(token))) {
    throw new HttpError(
      401,
      'UNAUTHORIZED',
      "the admin API needs the server's admin token: send Authorization: Bearer <token> (tidemq admin --token, or TIDEMQ_ADMIN_TOKEN).",
    );
  }
}

/**
 * A change (POST): from this host only unless the request was authenticated by the admin token;
 * never from a web page.
 */
function checkChange(req: http.IncomingMessage, authenticated: boolean): void {
  const a = req.socket.remoteAddress ?? '';
  if (!authenticated && !(a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.'))) {
    throw new HttpError(
      403,
      'FORBIDDEN',
      `admin changes are accepted from the server's host only (this request came from ${a}): run tidemq admin there, or start the server with an admin token.`,
    );
  }
  // A web page open on this host can send simple cross-site POSTs to loopback: browsers always
  // name their Origin, and cannot send application/json without a preflight we never answer.
  if (req.headers.origin !== undefined) {
    throw new HttpError(
      403,
      'FORBIDDEN',
      'admin changes are not accepted from web pages (Origin header present).',
    );
  }
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'admin changes need content-type: application/json.');
  }
}

function json(res: http.ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(text);
}

async function body(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new HttpError(413, 'BODY_TOO_LARGE', `bodies are limited to ${MAX_BODY_BYTES} bytes.`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', 'the request body is not valid JSON.');
  }
}

function answerError(
  logger: Logger | undefined,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  err: unknown,
): void {
  let status = 500;
  let code = 'INTERNAL_ERROR';
  if (err instanceof HttpError) {
    status = err.status;
    code = err.code;
  } else if (err instanceof BrokerError) {
    status = err.code === 'TOPIC_NOT_FOUND' ? 404 : err.code === 'BROKER_CLOSED' ? 503 : 400;
    code = err.code;
  } else if (err instanceof StoreError) {
    status = err.code === 'STORE_CLOSED' ? 503 : 500;
    code = err.code;
  }
  const message = err instanceof Error ? err.message : String(err);
  if (status >= 500) logger?.error({ method: req.method, path: req.url, err }, 'ops http request failed');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  json(res, status, { error: { code, message } });
}
