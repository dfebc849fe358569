import { randomPrefix } from '@teal/amq-core/testing';
import { type Row, verdict } from './report';
import type { Skip } from './results';
import type { Figures, Scenario, Sizes } from './scenarios';
import { spread } from './stats';
import type { BenchTarget } from './targets';

export interface RoundsPlan {
  readonly rounds: number;
  readonly sizes: Sizes;
  /** Whether the raw client (or the scenario's other peer) is measured too. */
  readonly withBaseline: boolean;
}

/**
 * Runs a scenario in interleaved rounds (adapter, baseline, adapter, …), the
 * baseline being the raw client or the scenario's other peer, and makes one
 * row per figure. A baseline that cannot run here is skipped, said in `skipped`.
 */
export async function measureScenario(
  target: BenchTarget,
  scenario: Scenario,
  { rounds, sizes, withBaseline }: RoundsPlan,
  skipped: Skip[],
): Promise<Row[]> {
  let baseline: ((prefix: string) => Promise<Figures>) | null = null;
  if (withBaseline && scenario.versus !== undefined) {
    const { versus } = scenario;
    const reason = await versus.unavailable();
    if (reason === null) {
      baseline = (prefix) => versus.run(prefix, sizes);
    } else {
      console.log(`- ${target.name} ${scenario.name}: ${versus.label} skipped, ${reason}`);
      skipped.push({ target: target.name, scenario: scenario.name, reason });
      return [];
    }
  } else if (withBaseline && target.raw !== null && scenario.adapterOnly !== true) {
    const { raw } = target;
    baseline = (prefix) => scenario.run(raw, prefix, sizes);
  }
  const adapterRuns: Figures[] = [];
  const baselineRuns: Figures[] = [];
  for (let round = 0; round < rounds; round++) {
    adapterRuns.push(await scenario.run(target.adapter, randomPrefix(), sizes));
    if (baseline !== null) baselineRuns.push(await baseline(randomPrefix()));
  }
  return Object.keys(adapterRuns[0] ?? {}).map((figure) => {
    const adapter = spread(adapterRuns.map((run) => run[figure]!));
    const raw = baselineRuns.length > 0 ? spread(baselineRuns.map((run) => run[figure]!)) : null;
    const row: Row = {
      target: target.name,
      scenario: scenario.name,
      figure,
      higherIsBetter: scenario.higherIsBetter.includes(figure),
      adapter,
      raw,
      ratio: raw === null ? null : adapter.median / raw.median,
    };
    console.log(
      `${target.name.padEnd(26)} ${scenario.name.padEnd(11)} ${figure.padEnd(17)} adapter ${adapter.median.toFixed(1).padStart(10)}` +
        `  ${scenario.versus === undefined ? 'raw' : 'vs '} ${raw === null ? '         –' : raw.median.toFixed(1).padStart(10)}` +
        `  ratio ${row.ratio === null ? '   –' : row.ratio.toFixed(2)}  ${verdict(row)}`,
    );
    return row;
  });
}

/** Why the adapter cannot serve the target (a URL it refuses, a broker that answers but fails), or `null`. */
export async function adapterRefusal(target: BenchTarget): Promise<string | null> {
  try {
    const peer = await target.adapter(randomPrefix());
    await peer.close();
    return null;
  } catch (error) {
    return `the adapter could not connect: ${error instanceof Error ? error.message : String(error)}`;
  }
}
