import { describe, expect, it } from 'vitest';
import { CHECK_ROW, observabilityMarkdown } from '../src/observability';
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
  /** The row `checks` writes: nanoseconds per `hasSubscribers` read. */
  const read = (ns: number): Row => ({
    ...CHECK_ROW,
    higherIsBetter: false,
    adapter: spread(ns),
    raw: null,
    ratio: null,
  });

  it("holds no subscriber to 2 % by what its two reads cost against a message's time", () => {
    const text = observabilityMarkdown(
      [],
      null,
      results([
        read(50),
        row('memory', 'msgs/s', 99_000, 100_000),
        row('memory', 'p50 µs', 10.1, 10),
        row('redis', 'msgs/s', 310_000, 300_000),
        row('redis', 'p50 µs', 4, 4),
      ]),
    );
    // 100 ns a message: 1 % of 10 µs, 3 % of 3.3 µs (300,000 msgs/s) and 2.5 % of 4 µs.
    expect(text.filter((line) => /^\| (memory|redis) /.test(line))).toEqual([
      '| memory | msgs/s | 100,000 (90,000 – 110,000) | 99,000 (89,100 – 108,900) | 0.990 | 1.000 % | met |',
      '| memory | p50 µs | 10 (9 – 11) | 10 (9 – 11) | 1.010 | 1.000 % | met |',
      '| redis | msgs/s | 300,000 (270,000 – 330,000) | 310,000 (279,000 – 341,000) | 1.033 | 3.000 % | MISSED |',
      '| redis | p50 µs | 4 (4 – 4) | 4 (4 – 4) | 1.000 | 2.500 % | MISSED |',
    ]);
    expect(text.join('\n')).toContain("One read of core's channels takes 50.00 ns here");
    expect(text.join('\n')).not.toContain('@teal/amq-otel`:');
  });

  it('meets nothing when the reads were not timed', () => {
    const text = observabilityMarkdown([], null, results([row('memory', 'msgs/s', 1, 1)]));
    expect(text).toContain('| memory | msgs/s | 1 (1 – 1) | 1 (1 – 1) | 1.000 | – | MISSED |');
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
