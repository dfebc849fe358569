import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { brokersRequired, probeBroker } from '@teal/amq-core/testing';
import type { LoadResults, LoadRow } from './results';
import { BROKERS, runLoad } from './run';
import { formatTable, isClean } from './table';

/**
 * `pnpm --filter @teal/demo loadtest [--only=amqp,redis] [--sockets=N] [--duration=S]
 * [--connections=C] [--quick] [--out=FILE]`: the service under load on each broker,
 * with N WebSockets waiting on their own state. A broker that does not answer
 * is skipped, visibly. Exits 1 when a request failed or a callback did not
 * reach its socket (or a broker was skipped under TEAL_REQUIRE_BROKERS=1).
 */
const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    sockets: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

function positiveInteger(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new Error(`--${name} must be a positive integer, not "${text}"`);
  }
  return value;
}

const names = values.only?.split(',').map((name) => name.trim()) ?? BROKERS.map((b) => b.name);
const unknown = names.filter((name) => !BROKERS.some((broker) => broker.name === name));
if (unknown.length > 0) {
  throw new Error(
    `--only: unknown broker ${unknown.join(', ')}; pick among ${BROKERS.map((b) => b.name).join(', ')}`,
  );
}
const options = {
  sockets: positiveInteger('sockets', values.sockets, values.quick ? 200 : 10_000),
  durationSeconds: positiveInteger('duration', values.duration, values.quick ? 3 : 10),
  connections: positiveInteger('connections', values.connections, values.quick ? 10 : 20),
  domainEvery: 10,
  report: (line: string) => console.log(line),
};
const out =
  values.out ?? fileURLToPath(new URL('../../../bench/results-load.json', import.meta.url));

console.log(
  `loadtest: ${options.sockets} sockets, ${options.connections} connections, ${options.durationSeconds} s per route, on ${names.join(', ')} (load average ${loadavg()[0]!.toFixed(2)})`,
);
const rows: LoadRow[] = [];
const skipped: string[] = [];
for (const broker of BROKERS.filter((b) => names.includes(b.name))) {
  const unavailable = broker.name === 'memory' ? null : await probeBroker(broker.url);
  if (unavailable !== null) {
    console.warn(`loadtest: skipping ${broker.name}: ${unavailable}`);
    skipped.push(broker.name);
    continue;
  }
  rows.push(await runLoad(broker, options));
}
console.log(formatTable(rows));
const results: LoadResults = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, node: process.version },
  rows,
};
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
console.log(`loadtest: wrote ${out}`);
// As in the tests: CI requires every broker, so a broker skipped fails the run.
const skipFails = brokersRequired() && skipped.length > 0;
if (skipFails) console.error(`loadtest: TEAL_REQUIRE_BROKERS=1, and ${skipped.join(', ')} skipped`);
process.exit(rows.every(isClean) && !skipFails ? 0 : 1);
