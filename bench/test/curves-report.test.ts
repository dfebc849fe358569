import { describe, expect, it } from 'vitest';
import type { Curve } from '../src/curves';
import { curveCharts, curvesMarkdown } from '../src/curves-report';

const BINDINGS = [1, 1_000, 10_000, 100_000];

describe('curvesMarkdown', () => {
  it('states under each chart how each adapter grows, computed from its points', () => {
    const curves: Curve[] = [
      // 0.1 MiB more heap per 1,000 bindings.
      { target: 'amqp', curve: 'bindings-heap', points: BINDINGS.map((x) => [x, x / 10_000]) },
      { target: 'amqp', curve: 'bindings-p50', points: BINDINGS.map((x) => [x, 400 + (x % 7)]) },
      {
        target: 'redis',
        curve: 'bindings-p50',
        points: BINDINGS.map((x) => [x, 300 + 60 * Math.log10(x)]),
      },
      // 2,000 msgs/s at every handler count: 500 µs per message.
      { target: 'nats', curve: 'handlers', points: [1, 10, 100].map((x) => [x, 2_000]) },
      // 1 ms per MiB on top of 100 µs: the time per message is linear in the size.
      {
        target: 'nats',
        curve: 'payload',
        points: [200, 65_536, 1_048_576, 4_194_304].map((x) => [
          x,
          1e6 / (100 + (x / 2 ** 20) * 1_000),
        ]),
      },
    ];
    const text = curvesMarkdown(curves).join('\n');
    expect(text).toContain(
      '![Heap held vs bindings on one handler](bench/charts/bindings-heap.svg)',
    );
    expect(text).toContain(
      '- amqp: linear, 0.102 KiB at 1 → 10.0 MiB at 100,000: +102 KiB per 1,000 bindings',
    );
    expect(text).toMatch(/- amqp: flat, 401 µs at 1 → 40\d µs at 100,000/);
    expect(text).toContain(
      '- redis: logarithmic, 300 µs at 1 → 600 µs at 100,000: +60.0 µs per tenfold',
    );
    expect(text).toContain('- nats: flat, 500 µs at 1 → 500 µs at 100');
    expect(text).toContain(
      '- nats: linear, 100 µs at 200 B → 4.10 ms at 4 MiB: +1.00 ms per MiB of payload',
    );
    expect([...curveCharts(curves).keys()].sort()).toEqual([
      'bindings-heap',
      'bindings-p50',
      'handlers',
      'payload',
    ]);
  });

  it('says what bounded a curve', () => {
    const curves: Curve[] = [
      {
        target: 'postgres',
        curve: 'handlers',
        points: [
          [1, 900],
          [10, 880],
          [40, 870],
        ],
        note: 'at most 40 handlers',
      },
    ];
    expect(curvesMarkdown(curves).join('\n')).toContain('at 40 (at most 40 handlers)');
  });
});
