// Child process of tls.test: the official client with sslEnabled. NODE_EXTRA_CA_CERTS (read only
// at process start, hence a child) makes Node trust the test CA. Prints one JSON line.
import { Producer, SimpleConsumer } from 'rocketmq-client-nodejs';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const [endpoints, mode] = process.argv.slice(2) as [string, 'round-trip' | 'send'];

async function main(): Promise<object> {
  const producer = new Producer({
    endpoints,
    namespace: '',
    sslEnabled: true,
    requestTimeout: 2000,
    logger: quiet,
  });
  await producer.startup();
  try {
    const receipt = await producer.send({ topic: 'secure', body: Buffer.from('over TLS') });
    if (mode === 'send') return { sent: receipt.messageId };
    const consumer = new SimpleConsumer({
      endpoints,
      namespace: '',
      sslEnabled: true,
      consumerGroup: 'g',
      subscriptions: new Map([['secure', '*']]),
      awaitDuration: 1000,
      logger: quiet,
    });
    await consumer.startup();
    try {
      for (let i = 0; i < 10; i++) {
        const [m] = await consumer.receive(1, 10_000);
        if (m) {
          await consumer.ack(m);
          return { sent: receipt.messageId, received: m.messageId, body: m.body.toString() };
        }
      }
      return { sent: receipt.messageId };
    } finally {
      await consumer.shutdown();
    }
  } finally {
    await producer.shutdown();
  }
}

main().then(
  (result) => {
    process.stdout.write(`${JSON.stringify({ ok: true, ...result })}\n`);
  },
  (err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    process.stdout.write(`${JSON.stringify({ ok: false, name: e.name, message: e.message })}\n`);
    process.exitCode = 1;
  },
);
