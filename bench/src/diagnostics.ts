import * as diagnostics from 'node:diagnostics_channel';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DIAGNOSTICS_CHANNELS } from '@teal/amq-core';
import { RESULTS, writeDocument } from './document';
import { measureScenario } from './measure';
import { CHECK_ROW } from './observability';
import type { Row } from './report';
import { readResults, writeResults } from './results';
import { FULL, latency, throughput } from './scenarios';
import { spread } from './stats';
import { type BenchTarget, benchTargets, type Connect } from './targets';

/**
 * The three parts of `pnpm bench:diagnostics` (see `diagnostics.sh`), which
 * measures what core's diagnostics channels cost when no one subscribes:
 *
 *     diagnostics.ts checks <file>
 *     diagnostics.ts measure <file> <tree> <targets> <rounds> <order>
 *     diagnostics.ts combine <dir> <checks file> <out>
 *
 * `combine` writes `<out>` and rewrites BENCHMARKS.md from the last main run.
 * `checks` times the one thing compiled out, a `hasSubscribers` read of a
 * channel no one listens to, in a loop of 10 million reads, 9 times.
 *
 * `measure` loads both cores in one process, this tree's (one `hasSubscribers`
 * check per send, delivery and bind) and `<tree>`'s (the same commit with
 * those checks compiled out: the code before the diagnostics channels), and
 * runs throughput and latency in interleaved rounds of the two, `order` `AB`
 * starting with this tree's and `BA` with the other's: one process sees both
 * with the same CPU, heap layout and broker state, which separate processes
 * do not (their medians drift by more than the 2 % to be shown). Its rows
 * hold this tree's figures as `adapter`, the other's as `raw`, and their
 * ratio. `combine` keeps, per figure, the median of the processes' ratios.
 */
const [mode, ...args] = process.argv.slice(2);

if (mode === 'checks') {
  const [file] = args as [string];
  writeFileSync(file, JSON.stringify([checkCost()]));
} else if (mode === 'measure') {
  const [file, tree, list, rounds, order] = args as [string, string, string, string, string];
  const names = list.split(',');
  // The other tree's core, and through it that tree's adapters; the targets are this tree's.
  const url = pathToFileURL(join(tree, 'packages/amq-core/src/index.ts')).href;
  const other = (await import(url)) as { connect: Connect };
  const theirs = benchTargets({ otel: false, via: other.connect });
  const rows: Row[] = [];
  for (const mine of benchTargets({ otel: false })) {
    const counterpart = theirs.find((target) => target.name === mine.name);
    if (!names.includes(mine.name) || counterpart === undefined) continue;
    const unavailable = await mine.unavailable();
    if (unavailable !== null) throw new Error(`${mine.name} cannot be measured: ${unavailable}`);
    const [first, second] = order === 'BA' ? [counterpart, mine] : [mine, counterpart];
    const paired: BenchTarget = { ...first, raw: second.adapter };
    try {
      for (const scenario of [throughput, latency]) {
        const plan = { rounds: Number(rounds), sizes: FULL, withBaseline: true };
        for (const row of await measureScenario(paired, scenario, plan, [])) {
          rows.push(order === 'BA' ? swapped(row) : row);
        }
      }
    } finally {
      await mine.cleanUp?.();
      await counterpart.cleanUp?.();
    }
  }
  writeFileSync(file, JSON.stringify(rows));
} else if (mode === 'combine') {
  const [dir, checksFile, out] = args as [string, string, string];
  const runs = readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .map((name) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as Row[]);
  const of = (like: Row, pick: (row: Row) => number | undefined) =>
    spread(
      runs.flatMap((run) => {
        const row = run.find((r) => r.target === like.target && r.figure === like.figure);
        const value = row === undefined ? undefined : pick(row);
        return value === undefined ? [] : [value];
      }),
    );
  const checks = JSON.parse(readFileSync(checksFile, 'utf8')) as Row[];
  const rows = (runs[0] ?? []).map(
    (like): Row => ({
      ...like,
      adapter: of(like, (row) => row.adapter.median),
      raw: of(like, (row) => row.raw?.median),
      ratio: of(like, (row) => row.ratio ?? undefined).median,
    }),
  );
  writeResults(out, {
    date: new Date().toISOString(),
    rounds: runs.length,
    rows: [...checks, ...rows],
  });
  console.log(`hasSubscribers read: ${checks[0]!.adapter.median.toFixed(2)} ns`);
  // BENCHMARKS.md shows it at once, beside the last main run.
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const main = readResults(join(root, 'bench', RESULTS.main));
  if (main !== null) writeDocument(root, main);
  for (const row of rows) {
    console.log(
      `${row.target.padEnd(16)} ${row.figure.padEnd(8)} with checks ${row.adapter.median.toFixed(1).padStart(9)}  without ${row.raw!.median.toFixed(1).padStart(9)}  ratio ${row.ratio!.toFixed(3)}`,
    );
  }
} else {
  throw new Error(
    `diagnostics.ts: unknown mode ${JSON.stringify(mode)} (checks, measure or combine)`,
  );
}
// Adapters keep sockets and timers alive only while handlers are open; exit in case one leaked.
process.exit(0);

/**
 * Nanoseconds per `hasSubscribers` read of core's send and deliver channels
 * (the reads a message meets), no one subscribed. The loop reads them by a
 * varying index so that the reads cannot be hoisted out of it, and its own
 * cost is counted in: an upper bound.
 */
function checkCost(): Row {
  const names = [DIAGNOSTICS_CHANNELS.send, DIAGNOSTICS_CHANNELS.deliver];
  const channels = [0, 1, 2, 3].map((i) => diagnostics.tracingChannel(names[i % 2]!));
  const reads = 10_000_000;
  const timings: number[] = [];
  let seen = 0;
  for (let repeat = 0; repeat < 9; repeat++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < reads; i++) if (channels[i & 3]!.hasSubscribers) seen++;
    timings.push(Number(process.hrtime.bigint() - start) / reads);
  }
  if (seen !== 0) throw new Error('diagnostics.ts checks: a channel has a subscriber');
  return { ...CHECK_ROW, higherIsBetter: false, adapter: spread(timings), raw: null, ratio: null };
}

/** A row measured with the other tree first, put back as this tree's ÷ the other's. */
function swapped(row: Row): Row {
  const { adapter, raw } = row;
  return { ...row, adapter: raw!, raw: adapter, ratio: raw!.median / adapter.median };
}
