import { fileURLToPath } from 'node:url';
import { randomPrefix } from '@teal/amq-core/testing';
import { clusterTargets } from './clusters';
import { type Curve, measureCurves } from './curves';
import { RESULTS, writeDocument } from './document';
import { adapterRefusal, measureScenario } from './measure';
import { startOtel } from './otel';
import { machine, type Row } from './report';
import { type Results, readResults, type Skip, writeResults } from './results';
import { FULL, latency, QUICK, SCENARIOS, type Scenario, throughput, waits } from './scenarios';
import { type BenchTarget, benchTargets } from './targets';

const args = process.argv.slice(2);
const isQuick = args.includes('--quick');
// The adapters with @teal/amq-otel instrumenting: throughput and latency only, no raw clients.
const isOtel = args.includes('--otel');
// The adapters against the clusters whose URLs the environment gives: throughput and latency.
const isCluster = args.includes('--cluster');
const only = args
  .find((arg) => arg.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const rounds = isQuick ? 1 : Number(args.find((arg) => arg.startsWith('--rounds='))?.slice(9) ?? 5);
const sizes = isQuick ? QUICK : FULL;
const isMain = !isOtel && !isCluster;

const rows: Row[] = [];
const curves: Curve[] = [];
const skipped: Skip[] = [];
const where: Record<string, string> = {};
const durations: Record<string, { scenarios: number; curves?: number }> = {};
const stopOtel = isOtel ? startOtel() : null;
const started = performance.now();

const targets: readonly (BenchTarget & { single?: string; where?: string })[] = isCluster
  ? clusterTargets()
  : benchTargets({ otel: isOtel });

for (const target of targets) {
  if (only && !only.includes(target.name) && !only.includes(target.single ?? target.name)) continue;
  const unavailable = (await target.unavailable()) ?? (await adapterRefusal(target));
  if (unavailable) {
    console.log(`- ${target.name}: skipped, ${unavailable}`);
    skipped.push({ target: target.name, reason: unavailable });
    continue;
  }
  if (target.where !== undefined) where[target.name] = target.where;
  const targetStart = performance.now();
  try {
    for (const scenario of scenariosOf(target)) {
      const plan = { rounds, sizes, withBaseline: isMain };
      rows.push(...(await measureScenario(target, scenario, plan, skipped)));
    }
    durations[target.name] = { scenarios: seconds(targetStart) };
    if (isMain) {
      const curvesStart = performance.now();
      curves.push(
        ...(await measureCurves(target.name, target.adapter, randomPrefix, sizes, target.limits)),
      );
      durations[target.name]!.curves = seconds(curvesStart);
    }
  } finally {
    await target.cleanUp?.();
  }
  const { scenarios: inScenarios, curves: inCurves } = durations[target.name]!;
  console.log(
    `  (${target.name}: scenarios ${inScenarios} s${inCurves === undefined ? '' : `, curves ${inCurves} s`})`,
  );
}

await stopOtel?.();

const results: Results = {
  date: new Date().toISOString(),
  rounds,
  quick: isQuick,
  machine: machine(),
  durationS: seconds(started),
  durations,
  rows,
  ...(curves.length > 0 && { curves }),
  ...(skipped.length > 0 && { skipped }),
  ...(Object.keys(where).length > 0 && { targets: where }),
};
const root = fileURLToPath(new URL('../../', import.meta.url));
const kind = isCluster ? RESULTS.cluster : isOtel ? RESULTS.otel : RESULTS.main;
const name = isQuick ? kind.replace('.json', '-quick.json') : kind;
writeResults(`${root}bench/${name}`, results);
if (isQuick) {
  console.log(
    `quick run: ${rows.length} figures, ${curves.length} curves in ${results.durationS} s; results in bench/${name} (BENCHMARKS.md is left alone)`,
  );
} else {
  // BENCHMARKS.md: the main run's tables and charts, then the other runs' sections once they exist.
  const main = isMain ? results : readResults(`${root}bench/${RESULTS.main}`);
  if (main !== null) writeDocument(root, main);
  console.log(`results in bench/${name} and BENCHMARKS.md, in ${results.durationS} s`);
}
// As in the tests: CI requires every broker (and cluster), so a target skipped fails the run.
const required = isCluster ? 'TEAL_REQUIRE_CLUSTERS' : 'TEAL_REQUIRE_BROKERS';
const missing = skipped.filter((skip) => skip.scenario === undefined);
if (process.env[required] === '1' && missing.length > 0) {
  console.error(`${required}=1, and ${missing.map((skip) => skip.target).join(', ')} skipped`);
  process.exit(1);
}
// Adapters keep sockets and timers alive only while handlers are open; exit in case one leaked.
process.exit(0);

/** What each run measures of a target. */
function scenariosOf(target: BenchTarget): readonly Scenario[] {
  if (!isMain) return [throughput, latency];
  // The memory broker has no raw client: its figures are kept as absolute ones.
  if (target.raw === null) return [throughput, latency, waits];
  return [...SCENARIOS, ...(target.extra ?? [])];
}

function seconds(since: number): number {
  return Math.round((performance.now() - since) / 100) / 10;
}
