import { describe, expect, it } from 'vitest';
import { type Chart, lineChart } from '../src/charts';

const chart = (series: Chart['series']): Chart => ({
  title: 'p50 <latency> & bindings',
  xLabel: 'bindings',
  yLabel: 'µs',
  series,
  formatX: (x) => x.toLocaleString('en'),
  formatY: (y) => String(y),
});

const numbers = (svg: string, pattern: RegExp) =>
  [...svg.matchAll(pattern)].map((match) => Number(match[1]));

describe('lineChart', () => {
  it('draws each series as a line with its points, higher values higher up', () => {
    const svg = lineChart(
      chart([
        {
          name: 'amqp',
          points: [
            [1, 100],
            [1_000, 200],
            [100_000, 400],
          ],
        },
        {
          name: 'nats (durable)',
          points: [
            [1, 150],
            [1_000, 150],
          ],
        },
      ]),
    );
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg.match(/<circle /g)).toHaveLength(5);
    const firstLine = svg.match(/<polyline points="([^"]+)"/)![1]!.split(' ');
    const ys = firstLine.map((point) => Number(point.split(',')[1]));
    expect(ys[0]!).toBeGreaterThan(ys[1]!);
    expect(ys[1]!).toBeGreaterThan(ys[2]!);
    const xs = firstLine.map((point) => Number(point.split(',')[0]));
    // x on a log scale: 1 → 1,000 is three decades of five, so 60 % of the way to 100,000.
    expect((xs[1]! - xs[0]!) / (xs[2]! - xs[0]!)).toBeCloseTo(0.6, 2);
    expect(svg).toContain('nats (durable)');
    expect(svg).toContain('p50 &lt;latency&gt; &amp; bindings');
  });

  it('puts y on a log scale when the values span more than ×30, linear from zero otherwise', () => {
    const wide = lineChart(
      chart([
        {
          name: 'a',
          points: [
            [1, 10],
            [10, 10_000],
          ],
        },
      ]),
    );
    expect(wide).toContain('>1000<');
    expect(wide).not.toContain('>0<');
    const narrow = lineChart(
      chart([
        {
          name: 'a',
          points: [
            [1, 100],
            [10, 300],
          ],
        },
      ]),
    );
    expect(narrow).toContain('>0<');
    const ticks = numbers(narrow, />(\d+)<\/text>/g);
    expect(ticks).toContain(300);
  });

  it('leaves points that are not numbers out, and gives the same text for the same data', () => {
    const series = [
      {
        name: 'x',
        points: [
          [1, 5],
          [10, Number.NaN],
          [100, 7],
        ] as const,
      },
    ];
    const svg = lineChart(chart(series));
    expect(svg.match(/<circle /g)).toHaveLength(2);
    expect(svg).not.toContain('NaN');
    expect(lineChart(chart(series))).toBe(svg);
    expect(lineChart(chart([]))).toContain('no data');
  });
});
