import { describe, expect, it } from 'vitest';
import { growthOf, type Point } from '../src/growth';

const NOISE = { tolerance: 0.25, floor: 0 };
const at = (xs: readonly number[], cost: (x: number) => number): Point[] =>
  xs.map((x) => [x, cost(x)]);
const BINDINGS = [1, 1_000, 10_000, 100_000];

describe('growthOf', () => {
  it('calls a cost that stays within the tolerance flat', () => {
    const points: Point[] = [
      [1, 400],
      [1_000, 430],
      [10_000, 390],
      [100_000, 470],
    ];
    expect(growthOf(points, NOISE)).toEqual({ kind: 'flat', slope: 0 });
  });

  it('calls a cost proportional to x linear, with its slope', () => {
    const fit = growthOf(
      at(BINDINGS, (x) => 300 + 0.004 * x),
      NOISE,
    );
    expect(fit.kind).toBe('linear');
    expect(fit.slope).toBeCloseTo(0.004, 6);
  });

  it('calls a cost that grows by the same amount per tenfold logarithmic', () => {
    const fit = growthOf(
      at(BINDINGS, (x) => 300 + 80 * Math.log10(x)),
      NOISE,
    );
    expect(fit.kind).toBe('logarithmic');
    expect(fit.slope).toBeCloseTo(80, 6);
  });

  it('tells linear from logarithmic on noisy points', () => {
    const wobble = [1.05, 0.97, 1.03, 0.98];
    const linear = BINDINGS.map((x, i): Point => [x, (200 + 0.01 * x) * wobble[i]!]);
    const logarithmic = BINDINGS.map(
      (x, i): Point => [x, (200 + 100 * Math.log10(x)) * wobble[i]!],
    );
    expect(growthOf(linear, NOISE).kind).toBe('linear');
    expect(growthOf(logarithmic, NOISE).kind).toBe('logarithmic');
  });

  it('keeps a near-zero cost within the absolute floor flat (heap noise)', () => {
    const points: Point[] = [
      [1, 0.01],
      [1_000, 0.3],
      [10_000, -0.2],
      [100_000, 0.6],
    ];
    expect(growthOf(points, { tolerance: 0.25, floor: 1 }).kind).toBe('flat');
    expect(growthOf(points, NOISE).kind).not.toBe('flat');
  });

  it('says when a cost falls', () => {
    expect(
      growthOf(
        at([1, 10, 100], (x) => 1_000 - 9 * x),
        NOISE,
      ).kind,
    ).toBe('falling');
  });

  it('cannot tell the shape from two points that differ, and ignores points that are not numbers', () => {
    expect(
      growthOf(
        at([1, 1_000], (x) => 100 + x),
        NOISE,
      ).kind,
    ).toBe('undetermined');
    const withHole: Point[] = [
      [1, 100],
      [10, Number.NaN],
      [100, 105],
    ];
    expect(growthOf(withHole, NOISE).kind).toBe('flat');
    expect(growthOf([[1, 100]], NOISE).kind).toBe('undetermined');
  });
});
