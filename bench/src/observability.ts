import type { Row } from './report';
import type { Results } from './results';
import type { Spread } from './stats';

/** The figures the observability table compares: what a relay's operator feels. */
const FIGURES = [
  { scenario: 'throughput', figure: 'msgs/s', higherIsBetter: true },
  { scenario: 'latency', figure: 'p50 µs', higherIsBetter: false },
] as const;

/** No subscriber may cost more than this against the baseline. */
const TOLERANCE = 0.02;

/**
 * The observability section of BENCHMARKS.md: per target, throughput and p50
 * with no diagnostics subscriber (the main run), with `@teal/amq-otel`
 * instrumenting (`--otel`), and the baseline (a main run of the core before
 * diagnostics channels, saved as `bench/results-baseline.json`) side by side.
 */
export function observabilityMarkdown(
  plain: readonly Row[],
  otel: Results,
  baseline: Results | null,
): string[] {
  const lines = [
    '## Observability',
    '',
    `\`pnpm bench --otel\` on ${otel.date}, ${otel.rounds} rounds: the adapter with \`@teal/amq-otel\``,
    'instrumenting (the OpenTelemetry SDK, its context manager, batched spans exported nowhere,',
    'metrics), beside the main run with no subscriber to the diagnostics channels, and the baseline:',
    baseline === null
      ? 'none yet (a main run of the core before its diagnostics channels, saved as `bench/results-baseline.json`).'
      : `a main run of the core before its diagnostics channels, on ${baseline.date}.`,
    'No subscriber must stay within 2 % of the baseline.',
    '',
    '| target | figure | baseline | no subscriber | ÷ baseline | @teal/amq-otel | ÷ no subscriber |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const target of [...new Set(otel.rows.map((row) => row.target))]) {
    for (const { scenario, figure, higherIsBetter } of FIGURES) {
      const find = (rows: readonly Row[] | undefined) =>
        rows?.find((r) => r.target === target && r.scenario === scenario && r.figure === figure)
          ?.adapter ?? null;
      const base = find(baseline?.rows);
      const none = find(plain);
      const instrumented = find(otel.rows);
      if (instrumented === null) continue;
      const versusBase = ratio(none, base);
      const verdict =
        versusBase === null
          ? ''
          : higherIsBetter
            ? check(versusBase >= 1 - TOLERANCE)
            : check(versusBase <= 1 + TOLERANCE);
      lines.push(
        `| ${target} | ${figure} | ${cell(base)} | ${cell(none)} | ${[formatRatio(versusBase), verdict].filter(Boolean).join(' ')} | ${cell(instrumented)} | ${formatRatio(ratio(instrumented, none))} |`,
      );
    }
  }
  lines.push('');
  return lines;
}

function ratio(a: Spread | null, b: Spread | null): number | null {
  return a === null || b === null ? null : a.median / b.median;
}

function check(ok: boolean): string {
  return ok ? 'met (±2 %)' : 'MISSED (±2 %)';
}

function cell(spread: Spread | null): string {
  if (spread === null || Number.isNaN(spread.median)) return '–';
  const format = (value: number) => Math.round(value).toLocaleString('en');
  return `${format(spread.median)} (${format(spread.min)} – ${format(spread.max)})`;
}

function formatRatio(value: number | null): string {
  return value === null || Number.isNaN(value) ? '–' : value.toFixed(3);
}
