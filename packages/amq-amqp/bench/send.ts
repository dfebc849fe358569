/**
 * Quick local figures for @teal/amq-amqp against a RabbitMQ (AMQP_URL, default
 * the local one): sequential awaited send() latency (send → broker confirm),
 * pipelined throughput (send → callback, at most 256 in flight), and, for
 * reference, raw amqplib confirm latency with and without TCP_NODELAY.
 *
 *   cd packages/amq-amqp && npx tsx --conditions=@teal/source bench/send.ts
 */
import { performance } from 'node:perf_hooks';
import { callbackMessage, powensWebhookMessage } from '@teal/messages';
import { connect as amqpConnect } from 'amqplib';
import { connect } from '../src/index';

const url = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const prefix = `bench.${process.pid}.`;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

async function handlerLatency(count: number, payloadBytes: number): Promise<number[]> {
  const handler = await connect({ url, exchangePrefix: prefix });
  const message =
    payloadBytes === 0
      ? callbackMessage({ url: 'https://x.test/cb?state=lat', state: 'lat' })
      : powensWebhookMessage({ domain: 'lat', event: 'E', payload: 'p'.repeat(payloadBytes) });
  for (let i = 0; i < 100; i++) await handler.send(message);
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await handler.send(message);
    samples.push(performance.now() - start);
  }
  await handler.close();
  return samples;
}

async function rawLatency(count: number, noDelay: boolean, size: number): Promise<number[]> {
  const model = await amqpConnect(url, { noDelay });
  const channel = await model.createConfirmChannel();
  const exchange = `${prefix}callbacks`;
  await channel.assertExchange(exchange, 'direct', { durable: false, autoDelete: false });
  const body = Buffer.alloc(size, 'a');
  const once = () =>
    new Promise<void>((resolve, reject) => {
      channel.publish(exchange, 'lat', body, {}, (error) => (error ? reject(error) : resolve()));
    });
  for (let i = 0; i < 100; i++) await once();
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await once();
    samples.push(performance.now() - start);
  }
  await model.close();
  return samples;
}

async function throughput(total: number, window: number): Promise<number> {
  const sender = await connect({ url, exchangePrefix: prefix });
  const receiver = await connect({ url, exchangePrefix: prefix });
  let received = 0;
  let allReceived: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    allReceived = resolve;
  });
  receiver.callback = () => {
    received++;
    if (received === total) allReceived();
  };
  await receiver.bindCallbackState('tput');
  const start = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const n = next++;
      await sender.send(callbackMessage({ url: `https://x.test/cb?n=${n}`, state: 'tput' }));
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  await done;
  const seconds = (performance.now() - start) / 1000;
  await sender.close();
  await receiver.close();
  return total / seconds;
}

async function cleanUp(): Promise<void> {
  const model = await amqpConnect(url);
  const channel = await model.createChannel();
  for (const name of ['callbacks', 'openid_ciba_callbacks', 'powens_domain_webhooks']) {
    await channel.deleteExchange(prefix + name);
  }
  await model.close();
}

const format = (ms: number) => `${ms.toFixed(3)} ms`;
const report = (what: string, samples: number[]) =>
  console.log(`${what}: median ${format(median(samples))}, p99 ${format(percentile(samples, 99))}`);
report('handler send() sequential, 1000 small sends', await handlerLatency(1_000, 0));
report('handler send() sequential, 1000 sends of 8 KiB', await handlerLatency(1_000, 8_192));
// amqplib writes a message of 2 KiB or more in several socket writes: Nagle's case.
for (const size of [100, 8_192]) {
  for (const noDelay of [true, false]) {
    report(
      `raw amqplib confirm, ${size} B, noDelay ${noDelay}`,
      await rawLatency(1_000, noDelay, size),
    );
  }
}
const rate = await throughput(20_000, 256);
console.log(
  `handler pipelined, 20000 sends, 256 in flight: ${Math.round(rate)} messages/s (send → callback)`,
);
await cleanUp();
