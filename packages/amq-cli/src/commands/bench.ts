import { performance } from 'node:perf_hooks';
import { maskUrl } from '@teal/amq-core';
import { callbackMessage } from '@teal/messages';
import { brokerError, openHandler } from '../broker';
import { BROKER_FLAGS, type Command, type ParsedArgs, stringFlag } from '../command';
import { type CliIo, EXIT } from '../io';
import { brokerSettings } from '../settings';
import { formatMs, formatNumber, parseInteger } from '../values';

export const benchCommand: Command = {
  name: 'bench',
  summary: 'measure send → callback throughput and latency for a few seconds',
  usage: ['teal-amq bench [--seconds N] [--concurrency C] [--json]'],
  details: [
    'One handler sends callback messages to a random key with C sends in flight, another bound to that key receives them, for N seconds; then it waits (at most 10 s) for the last ones. Latency is from the start of send() to the callback. A live progress line goes to stderr on a terminal; the summary goes to stdout. Measure on a quiet machine: the figures of a busy one say little.',
  ],
  flags: {
    seconds: { type: 'string', value: 'N', description: 'how long to send. Default: 5' },
    concurrency: {
      type: 'string',
      value: 'C',
      description: 'sends in flight at once. Default: 16',
    },
    json: { type: 'boolean', description: 'print the summary as one JSON object' },
    ...BROKER_FLAGS,
  },
  examples: [
    'teal-amq bench',
    'teal-amq bench --seconds 10 --concurrency 64 --amqp-url redis://localhost:6379',
  ],
  run: runBench,
};

/** How long the receiver may take for what was sent before the summary counts it lost. */
const DRAIN_MS = 10_000;

async function runBench(parsed: ParsedArgs, io: CliIo): Promise<number> {
  const seconds = parseInteger(
    'seconds',
    stringFlag(parsed, 'seconds') ?? '5',
    [1, 3_600],
    'bench',
  );
  const concurrency = parseInteger(
    'concurrency',
    stringFlag(parsed, 'concurrency') ?? '16',
    [1, 10_000],
    'bench',
  );
  const settings = brokerSettings(parsed.values, io.env);
  const receiver = await openHandler(settings, io);
  const sender = await openHandler(settings, io).catch(async (error: unknown) => {
    await receiver.close();
    throw error;
  });
  const key = `bench-${Math.random().toString(36).slice(2, 12)}`;
  const sentAt: number[] = [];
  const latencies: number[] = [];
  const confirms: number[] = [];
  let received = 0;
  let lastReceivedAt = 0;
  let sendErrors = 0;
  let isSending = true;
  let drained = () => {};
  receiver.callback = (message) => {
    if (message.kind !== 'callback') return;
    const index = Number(message.url.slice(message.url.lastIndexOf('=') + 1));
    const start = sentAt[index];
    if (start === undefined) return;
    lastReceivedAt = performance.now();
    latencies.push(lastReceivedAt - start);
    received++;
    if (received === sentAt.length && isSending === false) drained();
  };
  const progress = io.stderr.isTTY === true;
  try {
    await receiver.bindCallbackState(key).catch((error: unknown) => {
      throw brokerError(`cannot bind ${key}`, error, settings.url);
    });
    const started = performance.now();
    const until = started + seconds * 1_000;
    const ticker = progress
      ? setInterval(() => {
          const elapsed = (performance.now() - started) / 1_000;
          io.stderr.write(
            `\r${formatNumber(elapsed, 1)} s · ${formatNumber(sentAt.length)} sent · ${formatNumber(received)} received · ${formatNumber(received / elapsed)} msg/s   `,
          );
        }, 250)
      : undefined;
    const worker = async () => {
      while (performance.now() < until && io.signal?.aborted !== true) {
        const index = sentAt.length;
        const start = performance.now();
        sentAt.push(start);
        try {
          await sender.send(
            callbackMessage({ state: key, url: `https://teal-amq.invalid/bench?n=${index}` }),
          );
          confirms.push(performance.now() - start);
        } catch (error) {
          sendErrors++;
          if (sendErrors === 1)
            io.stderr.write(`\n${brokerError('a send failed', error, settings.url).message}\n`);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const sendingMs = performance.now() - started;
    isSending = false;
    if (received < sentAt.length - sendErrors) {
      await new Promise<void>((resolve) => {
        drained = resolve;
        setTimeout(resolve, DRAIN_MS).unref();
      });
    }
    clearInterval(ticker);
    if (progress) io.stderr.write('\r\u001b[2K');
    const totalMs = Math.max(lastReceivedAt, started + sendingMs) - started;
    const summary = {
      url: maskUrl(settings.url),
      seconds: Math.round(sendingMs) / 1_000,
      concurrency,
      sent: sentAt.length - sendErrors,
      sendErrors,
      received,
      lost: sentAt.length - sendErrors - received,
      throughputPerSecond: Math.round(received / (totalMs / 1_000)),
      latencyMs: percentiles(latencies),
      confirmMs: percentiles(confirms),
    };
    io.stdout.write(
      parsed.values.json === true ? `${JSON.stringify(summary)}\n` : renderSummary(summary),
    );
    return summary.lost === 0 && sendErrors === 0 ? EXIT.ok : EXIT.failure;
  } finally {
    await Promise.all([sender.close(), receiver.close()]);
  }
}

interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest-rank percentiles, in milliseconds with two decimals. */
function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => {
    if (sorted.length === 0) return 0;
    const value = sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
    return Math.round(value * 100) / 100;
  };
  return { p50: at(50), p99: at(99), max: at(100) };
}

function renderSummary(summary: {
  url: string;
  seconds: number;
  concurrency: number;
  sent: number;
  sendErrors: number;
  received: number;
  lost: number;
  throughputPerSecond: number;
  latencyMs: Percentiles;
  confirmMs: Percentiles;
}): string {
  const row = (name: string, { p50, p99, max }: Percentiles) =>
    `${name.padEnd(22)} p50 ${formatMs(p50)} · p99 ${formatMs(p99)} · max ${formatMs(max)}`;
  return `${[
    `${summary.url}, ${summary.seconds} s, ${summary.concurrency} sends in flight`,
    `${'sent'.padEnd(22)} ${formatNumber(summary.sent)}${summary.sendErrors === 0 ? '' : ` (${formatNumber(summary.sendErrors)} failed)`}`,
    `${'received'.padEnd(22)} ${formatNumber(summary.received)}${summary.lost === 0 ? '' : ` (${formatNumber(summary.lost)} lost)`}`,
    `${'throughput'.padEnd(22)} ${formatNumber(summary.throughputPerSecond)} msg/s`,
    row('send → callback', summary.latencyMs),
    row('send → broker accepted', summary.confirmMs),
  ].join('\n')}\n`;
}
