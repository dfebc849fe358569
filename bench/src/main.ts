import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { probeBroker, randomPrefix } from '@teal/amq-core/testing';
import { machine, markdown, type Row, verdict } from './report';
import {
  type Figures,
  FULL,
  QUICK,
  SCENARIOS,
  type Scenario,
  throughput,
  waits,
} from './scenarios';
import { spread } from './stats';
import { TARGETS } from './targets';

const args = process.argv.slice(2);
const isQuick = args.includes('--quick');
const only = args
  .find((arg) => arg.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const rounds = isQuick ? 1 : Number(args.find((arg) => arg.startsWith('--rounds='))?.slice(9) ?? 5);
const sizes = isQuick ? QUICK : FULL;
const rows: Row[] = [];

for (const target of TARGETS) {
  if (only && !only.includes(target.name)) continue;
  const unavailable = target.url === null ? null : await probeBroker(target.url);
  if (unavailable) {
    console.log(`- ${target.name}: skipped, ${unavailable}`);
    continue;
  }
  // The memory broker has no raw client: its throughput is kept as an absolute figure.
  const scenarios: readonly Scenario[] = target.raw === null ? [throughput, waits] : SCENARIOS;
  for (const scenario of scenarios) {
    const adapterRuns: Figures[] = [];
    const rawRuns: Figures[] = [];
    for (let round = 0; round < rounds; round++) {
      adapterRuns.push(await scenario.run(target.adapter, randomPrefix(), sizes));
      if (target.raw !== null && scenario.adapterOnly !== true) {
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

const date = new Date().toISOString();
const meta = { date, rounds, quick: isQuick, machine: machine() };
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
if (isQuick) {
  writeFileSync(here('../results-quick.json'), `${JSON.stringify({ ...meta, rows }, null, 2)}\n`);
  console.log(
    `quick run: ${rows.length} figures; results in bench/results-quick.json (BENCHMARKS.md is left alone)`,
  );
} else {
  writeFileSync(here('../results.json'), `${JSON.stringify({ ...meta, rows }, null, 2)}\n`);
  writeFileSync(here('../../BENCHMARKS.md'), markdown(rows, meta));
  console.log('results in bench/results.json and BENCHMARKS.md');
}
// Adapters keep sockets and timers alive only while handlers are open; exit in case one leaked.
process.exit(0);
