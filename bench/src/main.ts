import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { probeBroker, randomPrefix } from '@teal/amq-core/testing';
import { observabilityMarkdown, readResults } from './observability';
import { startOtel } from './otel';
import { machine, markdown, type Row, verdict } from './report';
import {
  type Figures,
  FULL,
  latency,
  QUICK,
  SCENARIOS,
  type Scenario,
  throughput,
  waits,
} from './scenarios';
import { spread } from './stats';
import { benchTargets } from './targets';

const args = process.argv.slice(2);
const isQuick = args.includes('--quick');
// The adapters with @teal/amq-otel instrumenting: throughput and latency only, no raw clients.
const isOtel = args.includes('--otel');
const only = args
  .find((arg) => arg.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const rounds = isQuick ? 1 : Number(args.find((arg) => arg.startsWith('--rounds='))?.slice(9) ?? 5);
const sizes = isQuick ? QUICK : FULL;
const rows: Row[] = [];
const stopOtel = isOtel ? startOtel() : null;

for (const target of benchTargets({ otel: isOtel })) {
  if (only && !only.includes(target.name)) continue;
  const unavailable = target.url === null ? null : await probeBroker(target.url);
  if (unavailable) {
    console.log(`- ${target.name}: skipped, ${unavailable}`);
    continue;
  }
  // The memory broker has no raw client: its figures are kept as absolute ones.
  const scenarios: readonly Scenario[] = isOtel
    ? [throughput, latency]
    : target.raw === null
      ? [throughput, latency, waits]
      : SCENARIOS;
  for (const scenario of scenarios) {
    const adapterRuns: Figures[] = [];
    const rawRuns: Figures[] = [];
    for (let round = 0; round < rounds; round++) {
      adapterRuns.push(await scenario.run(target.adapter, randomPrefix(), sizes));
      if (target.raw !== null && scenario.adapterOnly !== true && !isOtel) {
        rawRuns.push(await scenario.run(target.raw, randomPrefix(), sizes));
      }
    }
    for (const figure of Object.keys(adapterRuns[0] ?? {})) {
      const adapter = spread(adapterRuns.map((run) => run[figure]!));
      const raw = rawRuns.length > 0 ? spread(rawRuns.map((run) => run[figure]!)) : null;
      const row: Row = {
        target: target.name,
        scenario: scenario.name,
        figure,
        higherIsBetter: scenario.higherIsBetter.includes(figure),
        adapter,
        raw,
        ratio: raw === null ? null : adapter.median / raw.median,
      };
      rows.push(row);
      console.log(
        `${target.name.padEnd(15)} ${scenario.name.padEnd(11)} ${figure.padEnd(15)} adapter ${adapter.median.toFixed(1).padStart(10)}` +
          `  raw ${raw === null ? '         –' : raw.median.toFixed(1).padStart(10)}` +
          `  ratio ${row.ratio === null ? '   –' : row.ratio.toFixed(2)}  ${verdict(row)}`,
      );
    }
  }
}

await stopOtel?.();

const date = new Date().toISOString();
const meta = { date, rounds, quick: isQuick, machine: machine() };
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const name = `results${isOtel ? '-otel' : ''}${isQuick ? '-quick' : ''}.json`;
writeFileSync(here(`../${name}`), `${JSON.stringify({ ...meta, rows }, null, 2)}\n`);
if (isQuick) {
  console.log(
    `quick run: ${rows.length} figures; results in bench/${name} (BENCHMARKS.md is left alone)`,
  );
} else {
  // BENCHMARKS.md: the main run's tables, then the observability comparison once both runs exist.
  const main = isOtel ? readResults(here('../results.json')) : { ...meta, rows };
  const otel = isOtel ? { ...meta, rows } : readResults(here('../results-otel.json'));
  if (main !== null) {
    const observability =
      otel === null
        ? []
        : observabilityMarkdown(main.rows, otel, readResults(here('../results-baseline.json')));
    writeFileSync(
      here('../../BENCHMARKS.md'),
      `${markdown(main.rows, { ...main, machine: main.machine ?? machine() })}${observability.join('\n')}`,
    );
  }
  console.log(`results in bench/${name} and BENCHMARKS.md`);
}
// Adapters keep sockets and timers alive only while handlers are open; exit in case one leaked.
process.exit(0);
