// instrument(): latency by method and status code, and the log of failures, terminations and
// Settings handshakes, around a handler table (the real MessagingService's is exercised through
// the official client in metrics.test.ts; here failures are produced on purpose).
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import t from 'tap';
import { instrument } from '../../src/server/instrument.js';
import { ServerMetrics } from '../../src/server/metrics.js';
import { sample } from '../helpers/prometheus.js';

function capture() {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  return { lines, logger: pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) }) };
}

function unaryCall(clientId: string) {
  const metadata = new grpc.Metadata();
  metadata.set('x-mq-client-id', clientId);
  return { metadata, request: {} };
}

const closedBroker = { closing: true } as never;

t.test('instrument: unary failures are logged with method, code and client; latency by code', async (t) => {
  const { lines, logger } = capture();
  const metrics = new ServerMetrics(closedBroker);
  const table = instrument(
    {
      SendMessage: (_call: unknown, reply: grpc.sendUnaryData<object>) =>
        reply(null, { status: { code: 50001, message: 'disk on fire' } }),
      QueryRoute: (_call: unknown, reply: grpc.sendUnaryData<object>) =>
        reply(null, { status: { code: 40402, message: 'no such topic' } }),
      Heartbeat: (_call: unknown, reply: grpc.sendUnaryData<object>) =>
        reply(null, { status: { code: 20000 } }),
      NotifyClientTermination: (_call: unknown, reply: grpc.sendUnaryData<object>) =>
        reply(null, { status: { code: 20000 } }),
    },
    { metrics, logger },
  );
  const replies: unknown[] = [];
  const reply = (_err: unknown, res: unknown) => replies.push(res);
  const methods = ['SendMessage', 'QueryRoute', 'Heartbeat', 'Heartbeat', 'NotifyClientTermination'];
  for (let i = 0; i < 50; i++) methods.push('SendMessage');
  for (const m of methods) {
    (table[m] as (c: unknown, r: unknown) => void)(unaryCall('c-1'), reply);
  }
  t.equal(replies.length, 55, 'every reply passes through');
  t.same(replies[0], { status: { code: 50001, message: 'disk on fire' } }, 'unchanged');
  const errors = lines.filter((l) => l.level === 50);
  t.equal(errors.length, 1, 'the internal error is logged once, not once per failed request');
  t.match(errors[0], { method: 'SendMessage', code: 50001, clientId: 'c-1', err: 'disk on fire' });
  t.match(
    lines.find((l) => l.msg === 'client terminated'),
    { clientId: 'c-1' },
  );
  t.equal(lines.length, 2, 'successes and client errors are not logged');
  const text = await metrics.scrape();
  const count = (method: string, code: string) =>
    sample(text, 'tidemq_request_duration_seconds_count', { method, code });
  t.equal(count('SendMessage', '50001'), 51, 'every failure is counted');
  t.equal(count('QueryRoute', '40402'), 1);
  t.equal(count('Heartbeat', '20000'), 2);
});

t.test(
  'instrument: Settings are logged once per Telemetry stream; a cancelled receive is counted',
  async (t) => {
    const { lines, logger } = capture();
    const metrics = new ServerMetrics(closedBroker);
    const table = instrument({ Telemetry: () => {}, ReceiveMessage: () => {} }, { metrics, logger });
    const stream = Object.assign(new EventEmitter(), unaryCall('c-2'), {
      write() {},
      getPeer: () => 'ipv4:1.2.3.4:5',
    });
    (table.Telemetry as (c: unknown) => void)(stream);
    const settings = { clientType: 3, subscription: { group: { name: 'billing' } } };
    stream.emit('data', { settings });
    stream.emit('data', { settings });
    const logged = lines.filter((l) => l.msg === 'client settings');
    t.equal(logged.length, 1, 'once per stream');
    t.match(logged[0], { clientId: 'c-2', client_type: 'SIMPLE_CONSUMER', group: 'billing' });

    const receive = Object.assign(new EventEmitter(), unaryCall('c-2'), { write() {} });
    (table.ReceiveMessage as (c: unknown) => void)(receive);
    receive.emit('cancelled');
    receive.emit('finish');
    const text = await metrics.scrape();
    t.equal(
      sample(text, 'tidemq_request_duration_seconds_count', { method: 'ReceiveMessage', code: 'CANCELLED' }),
      1,
      'counted once, as cancelled',
    );
  },
);

t.test('instrument: nothing to report to leaves the table as it is', async (t) => {
  const table = { Heartbeat: () => {} };
  t.equal(instrument(table, {}), table);
});
