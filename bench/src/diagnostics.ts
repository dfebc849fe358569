import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { measureScenario } from './measure';
import type { Row } from './report';
import { writeResults } from './results';
import { FULL, latency, throughput } from './scenarios';
import { spread } from './stats';
import { benchTargets } from './targets';

/**
 * The two halves of `pnpm bench:diagnostics` (see `diagnostics.sh`), which
 * measures what core's diagnostics channels cost when no one subscribes:
 *
 *     diagnostics.ts measure <file> <targets> <rounds>   throughput and latency of the adapters, into <file>
 *     diagnostics.ts combine <dir> <out>                  with (A-*.json) ÷ without (B-*.json) the checks
 *
 * In the combined results each row's `adapter` is the core as it is (no
 * subscriber: one `hasSubscribers` check per send, delivery and bind) and
 * its `raw` the same core with those checks compiled out: the code before
 * the diagnostics channels, measured in the same run.
 */
const [mode, ...args] = process.argv.slice(2);

if (mode === 'measure') {
  const [file, list, rounds] = args as [string, string, string];
  const names = list.split(',');
  const rows: Row[] = [];
  for (const target of benchTargets({ otel: false })) {
    if (!names.includes(target.name)) continue;
    const unavailable = await target.unavailable();
    if (unavailable !== null) throw new Error(`${target.name} cannot be measured: ${unavailable}`);
    try {
      for (const scenario of [throughput, latency]) {
        const plan = { rounds: Number(rounds), sizes: FULL, withBaseline: false };
        rows.push(...(await measureScenario(target, scenario, plan, [])));
      }
    } finally {
      await target.cleanUp?.();
    }
  }
  writeFileSync(file, JSON.stringify(rows));
} else if (mode === 'combine') {
  const [dir, out] = args as [string, string];
  const runs = (side: 'A' | 'B') =>
    readdirSync(dir)
      .filter((name) => name.startsWith(`${side}-`))
      .map((name) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as Row[]);
  const withChecks = runs('A');
  const without = runs('B');
  // One figure per process: the median of its rounds; the spread is over the processes.
  const of = (rows: Row[][], like: Row) =>
    spread(
      rows.flatMap(
        (run) =>
          run.find((r) => r.target === like.target && r.figure === like.figure)?.adapter.median ??
          [],
      ),
    );
  const rows = (withChecks[0] ?? []).map((like): Row => {
    const adapter = of(withChecks, like);
    const raw = of(without, like);
    return { ...like, adapter, raw, ratio: adapter.median / raw.median };
  });
  writeResults(out, {
    date: new Date().toISOString(),
    rounds: withChecks.length,
    rows,
  });
  for (const row of rows) {
    console.log(
      `${row.target.padEnd(16)} ${row.figure.padEnd(8)} with checks ${row.adapter.median.toFixed(1).padStart(9)}  without ${row.raw!.median.toFixed(1).padStart(9)}  ratio ${row.ratio!.toFixed(3)}`,
    );
  }
} else {
  throw new Error(`diagnostics.ts: unknown mode ${JSON.stringify(mode)} (measure or combine)`);
}
// Adapters keep sockets and timers alive only while handlers are open; exit in case one leaked.
process.exit(0);
