import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Curve } from './curves';
import type { Row } from './report';

/** A target or a peer that could not be measured, and why: said in the report, not hidden. */
export interface Skip {
  readonly target: string;
  readonly scenario?: string;
  readonly reason: string;
}

/** A results file as `main.ts` writes it. */
export interface Results {
  readonly date: string;
  readonly rounds: number;
  readonly quick?: boolean;
  readonly rows: readonly Row[];
  readonly machine?: Record<string, string>;
  /** Seconds the whole run took. */
  readonly durationS?: number;
  /** Per target, seconds its scenarios took, and its curves. */
  readonly durations?: Readonly<Record<string, { scenarios: number; curves?: number }>>;
  readonly curves?: readonly Curve[];
  readonly skipped?: readonly Skip[];
  /** Per target, where it ran (a URL, password masked), when the report names it. */
  readonly targets?: Readonly<Record<string, string>>;
}

/** The figures of a spread: JSON wrote a figure that was not a number (NaN) as `null`. */
const SPREAD_KEYS = new Set(['min', 'median', 'max']);

export function readResults(path: string): Results | null {
  if (!existsSync(path)) return null;
  return JSON.parse(readFileSync(path, 'utf8'), (key, value) =>
    value === null && SPREAD_KEYS.has(key) ? Number.NaN : value,
  ) as Results;
}

export function writeResults(path: string, results: Results): void {
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
}
