import type { Row } from './report';
import type { Results } from './results';
import type { Spread } from './stats';

/** The figures the observability tables compare: what a relay's operator feels. */
const FIGURES = [
  { scenario: 'throughput', figure: 'msgs/s', higherIsBetter: true },
  { scenario: 'latency', figure: 'p50 µs', higherIsBetter: false },
] as const;

/** No subscriber may cost more than this against the checks compiled out. */
const TOLERANCE = 0.02;

/**
 * The observability section of BENCHMARKS.md: what the diagnostics channels
 * cost with no subscriber (`pnpm bench:diagnostics`: the core as it is and
 * the same commit with its `hasSubscribers` checks compiled out, interleaved
 * in each process), and what `@teal/amq-otel` instrumenting costs (`--otel`)
 * beside the main run's figures.
 */
export function observabilityMarkdown(
  plain: readonly Row[],
  otel: Results | null,
  diagnostics: Results | null,
): string[] {
  if (otel === null && diagnostics === null) return [];
  const lines = ['## Observability', ''];
  if (diagnostics !== null) {
    lines.push(
      `With no subscriber: \`pnpm bench:diagnostics\` on ${diagnostics.date}, ${diagnostics.rounds} processes, each`,
      'loading two cores and running them in interleaved rounds: the core as it is (one `hasSubscribers`',
      'check per send, delivery, drop and bind) and the same commit with those checks compiled out,',
      'the code as it was before the diagnostics channels. Each cell: the median (min – max) over the',
      "processes of each one's median; ÷ is the median of the processes' own ratios, which one process",
      'measures on the same CPU, heap and broker for both. No subscriber must stay within 2 %.',
      '',
      '| target | figure | checks compiled out | no subscriber | ÷ | within 2 % |',
      '| --- | --- | --- | --- | --- | --- |',
    );
    for (const row of select(diagnostics.rows)) {
      const { higherIsBetter } = row;
      const ratio = row.ratio ?? Number.NaN;
      const isWithin = higherIsBetter ? ratio >= 1 - TOLERANCE : ratio <= 1 + TOLERANCE;
      lines.push(
        `| ${row.target} | ${row.figure} | ${cell(row.raw)} | ${cell(row.adapter)} | ${formatRatio(ratio)} | ${isWithin ? 'met' : 'MISSED'} |`,
      );
    }
    lines.push('');
  }
  if (otel !== null) {
    lines.push(
      `With \`@teal/amq-otel\`: \`pnpm bench --otel\` on ${otel.date}, ${otel.rounds} rounds: the adapter with it`,
      'instrumenting (the OpenTelemetry SDK, its context manager, batched spans exported nowhere,',
      'metrics), beside the main run, where no one subscribes to the diagnostics channels.',
      '',
      '| target | figure | no subscriber (main run) | @teal/amq-otel | ÷ no subscriber |',
      '| --- | --- | --- | --- | --- |',
    );
    for (const row of select(otel.rows)) {
      const none =
        plain.find(
          (r) => r.target === row.target && r.scenario === row.scenario && r.figure === row.figure,
        )?.adapter ?? null;
      lines.push(
        `| ${row.target} | ${row.figure} | ${cell(none)} | ${cell(row.adapter)} | ${formatRatio(none === null ? null : row.adapter.median / none.median)} |`,
      );
    }
    lines.push('');
  }
  return lines;
}

/** The rows of the compared figures, target by target. */
function select(rows: readonly Row[]): Row[] {
  return [...new Set(rows.map((row) => row.target))].flatMap((target) =>
    FIGURES.flatMap(
      ({ scenario, figure }) =>
        rows.find((r) => r.target === target && r.scenario === scenario && r.figure === figure) ??
        [],
    ),
  );
}

function cell(spread: Spread | null): string {
  if (spread === null || Number.isNaN(spread.median)) return '–';
  const format = (value: number) => Math.round(value).toLocaleString('en');
  return `${format(spread.median)} (${format(spread.min)} – ${format(spread.max)})`;
}

function formatRatio(value: number | null): string {
  return value === null || Number.isNaN(value) ? '–' : value.toFixed(3);
}
