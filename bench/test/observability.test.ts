import { describe, expect, it } from 'vitest';
import { observabilityMarkdown } from '../src/observability';
import type { Row } from '../src/report';
import type { Results } from '../src/results';

const spread = (median: number) => ({ min: median * 0.9, median, max: median * 1.1 });

/** A row as `pnpm bench:diagnostics` writes it: adapter with the checks, raw without. */
function row(
  target: string,
  figure: 'msgs/s' | 'p50 µs',
  withChecks: number,
  without: number,
): Row {
  return {
    target,
    scenario: figure === 'msgs/s' ? 'throughput' : 'latency',
    figure,
    higherIsBetter: figure === 'msgs/s',
    adapter: spread(withChecks),
    raw: spread(without),
    ratio: withChecks / without,
  };
}

const results = (rows: Row[]): Results => ({ date: '2026-01-01T00:00:00.000Z', rounds: 12, rows });

describe('observabilityMarkdown', () => {
  it('holds no subscriber to 2 % of the checks compiled out, in the direction of each figure', () => {
    const text = observabilityMarkdown(
      [],
      null,
      results([
        row('memory', 'msgs/s', 99_000, 100_000),
        row('memory', 'p50 µs', 10.1, 10),
        row('redis', 'msgs/s', 97_000, 100_000),
        row('redis', 'p50 µs', 10.3, 10),
      ]),
    );
    expect(text.filter((line) => /^\| (memory|redis) /.test(line))).toEqual([
      '| memory | msgs/s | 100,000 (90,000 – 110,000) | 99,000 (89,100 – 108,900) | 0.990 | met |',
      '| memory | p50 µs | 10 (9 – 11) | 10 (9 – 11) | 1.010 | met |',
      '| redis | msgs/s | 100,000 (90,000 – 110,000) | 97,000 (87,300 – 106,700) | 0.970 | MISSED |',
      '| redis | p50 µs | 10 (9 – 11) | 10 (9 – 11) | 1.030 | MISSED |',
    ]);
    expect(text.join('\n')).not.toContain('@teal/amq-otel`:');
  });

  it('sets the instrumented run beside the main run, and leaves the section out with neither', () => {
    const otel = results([{ ...row('nats', 'msgs/s', 5_000, 0), raw: null, ratio: null }]);
    const text = observabilityMarkdown([row('nats', 'msgs/s', 20_000, 0)], otel, null).join('\n');
    expect(text).toContain(
      '| nats | msgs/s | 20,000 (18,000 – 22,000) | 5,000 (4,500 – 5,500) | 0.250 |',
    );
    expect(text).not.toContain('checks compiled out');
    expect(observabilityMarkdown([], null, null)).toEqual([]);
  });
});
