/** A point of a cost curve: x (bindings, handlers, bytes) and the cost there. */
export type Point = readonly [x: number, y: number];

/** How a cost grows with x, as the data shows it. */
export type Growth = 'flat' | 'logarithmic' | 'linear' | 'falling' | 'undetermined';

export interface GrowthFit {
  readonly kind: Growth;
  /** Cost added per unit of x (linear), per tenfold x (logarithmic); 0 when flat. */
  readonly slope: number;
}

export interface GrowthRule {
  /** Flat when every cost lies within this share of their median of each other. */
  readonly tolerance: number;
  /** … or within this absolute amount (noise of a near-zero cost, such as heap). */
  readonly floor: number;
}

/**
 * Classifies a cost curve: flat when the costs' spread stays within the
 * rule's tolerance; otherwise the better least-squares fit of
 * `a + b·x` (linear) and `a + b·log10 x` (logarithmic), or falling when the
 * better fit's slope is negative. Two points that are not flat cannot tell
 * linear from logarithmic: undetermined.
 */
export function growthOf(points: readonly Point[], rule: GrowthRule): GrowthFit {
  const valid = points.filter(([x, y]) => x > 0 && Number.isFinite(y)).sort((a, b) => a[0] - b[0]);
  const costs = valid.map(([, y]) => y).sort((a, b) => a - b);
  if (costs.length < 2) return { kind: 'undetermined', slope: Number.NaN };
  const spread = costs.at(-1)! - costs[0]!;
  const middle = Math.abs(costs[Math.floor((costs.length - 1) / 2)]!);
  if (spread <= Math.max(rule.tolerance * middle, rule.floor)) return { kind: 'flat', slope: 0 };
  const linear = leastSquares(valid);
  if (valid.length < 3) return { kind: 'undetermined', slope: linear.slope };
  const logarithmic = leastSquares(valid.map(([x, y]) => [Math.log10(x), y] as const));
  const best =
    linear.residual <= logarithmic.residual
      ? { kind: 'linear' as const, slope: linear.slope }
      : { kind: 'logarithmic' as const, slope: logarithmic.slope };
  return best.slope < 0 ? { kind: 'falling', slope: best.slope } : best;
}

/** The line y = a + b·x closest to the points, and its sum of squared residuals. */
function leastSquares(points: readonly Point[]): { slope: number; residual: number } {
  const n = points.length;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const [x, y] of points) {
    sxx += (x - meanX) ** 2;
    sxy += (x - meanX) * (y - meanY);
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  const intercept = meanY - slope * meanX;
  const residual = points.reduce((sum, [x, y]) => sum + (y - intercept - slope * x) ** 2, 0);
  return { slope, residual };
}
