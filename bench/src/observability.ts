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

/** The row `pnpm bench:diagnostics` writes with the time of one `hasSubscribers` read. */
export const CHECK_ROW = {
  target: 'core',
  scenario: 'hasSubscribers',
  figure: 'ns per read',
} as const;

/** The `hasSubscribers` reads a message meets with no one subscribed: its send's and its delivery's. */
const READS_PER_MESSAGE = 2;

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
    const read = diagnostics.rows.find(
      (row) => row.target === CHECK_ROW.target && row.scenario === CHECK_ROW.scenario,
    )?.adapter.median;
    lines.push(
      `With no subscriber: \`pnpm bench:diagnostics\` on ${diagnostics.date}. What no subscriber adds to`,
      'a message is one `hasSubscribers` read on its send and one on its delivery (a drop and a bind',
      `have theirs). One read of core's channels takes ${read === undefined ? '–' : read.toFixed(2)} ns here, timed over 10 million reads`,
      '(the median of 9 loops, the loop counted in), so a message pays',
      `${read === undefined ? '–' : (READS_PER_MESSAGE * read).toFixed(1)} ns more: the bound column is that over the time a message (msgs/s) or a round`,
      'trip (p50) takes, and it decides "within 2 %".',
      '',
      `The end-to-end check: ${diagnostics.rounds} processes, each loading two cores and running them in interleaved rounds:`,
      'the core as it is and the same commit with those reads compiled out. Each cell: the median',
      "(min – max) over the processes of each one's median; ÷ is the median of the processes' own",
      'ratios. From one round to the next a figure moves by 10 % or more on this machine (garbage',
      'collection, the broker sharing the 2 cores), so ÷ cannot resolve 2 %; it shows that nothing',
      'larger than that noise comes with the reads.',
      '',
      '| target | figure | checks compiled out | no subscriber | ÷ | bound from the reads | within 2 % |',
      '| --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const row of select(diagnostics.rows)) {
      const bound = read === undefined ? Number.NaN : costBound(row, READS_PER_MESSAGE * read);
      lines.push(
        `| ${row.target} | ${row.figure} | ${cell(row.raw)} | ${cell(row.adapter)} | ${formatRatio(row.ratio)} | ${formatShare(bound)} | ${bound <= TOLERANCE ? 'met' : 'MISSED'} |`,
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

/**
 * The share of a message's time (throughput) or a round trip's (p50) that
 * `ns` more per message makes, against the figures with the reads compiled out.
 */
function costBound(row: Row, ns: number): number {
  const without = row.raw?.median ?? Number.NaN;
  return row.higherIsBetter ? (ns * without) / 1e9 : ns / (without * 1000);
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

function formatShare(value: number): string {
  return Number.isNaN(value) ? '–' : `${(value * 100).toFixed(3)} %`;
}

function formatRatio(value: number | null): string {
  return value === null || Number.isNaN(value) ? '–' : value.toFixed(3);
}
