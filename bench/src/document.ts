import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterMarkdown } from './clusters';
import { chartPath, curveCharts, curvesMarkdown } from './curves-report';
import { loadMarkdown, readLoadResults } from './load-report';
import { observabilityMarkdown } from './observability';
import { markdown } from './report';
import { type Results, readResults } from './results';

/** The results files beside the main one, merged into BENCHMARKS.md when they exist. */
export const RESULTS = {
  main: 'results.json',
  otel: 'results-otel.json',
  /** Written by `pnpm bench:diagnostics`. */
  diagnostics: 'results-diagnostics.json',
  cluster: 'results-cluster.json',
  /** Written by `pnpm --filter @teal/demo loadtest`, not by `pnpm bench`. */
  load: 'results-load.json',
} as const;

/**
 * Rewrites BENCHMARKS.md and the charts of `bench/charts/` from the main
 * run's results and whichever other runs have results files: the tables,
 * the Python original, the cost curves, the clusters, observability, and the
 * service under load (the demo's load test).
 */
export function writeDocument(root: string, main: Results): void {
  const bench = (name: string) => join(root, 'bench', name);
  const curves = main.curves ?? [];
  const charts = curveCharts(curves);
  if (charts.size > 0) mkdirSync(bench('charts'), { recursive: true });
  for (const [name, svg] of charts) writeFileSync(join(root, chartPath(name)), svg);
  const otel = readResults(bench(RESULTS.otel));
  const lines = [
    ...markdown(main),
    ...curvesMarkdown(curves),
    ...clusterMarkdown(main.rows, readResults(bench(RESULTS.cluster))),
    ...observabilityMarkdown(main.rows, otel, readResults(bench(RESULTS.diagnostics))),
    ...loadMarkdown(readLoadResults(bench(RESULTS.load))),
  ];
  writeFileSync(join(root, 'BENCHMARKS.md'), `${lines.join('\n').trimEnd()}\n`);
}
