import { describe, expect, it } from 'vitest';
import { DEFAULT_SEED, runFuzz, SHORT } from './fuzz/fuzzer';

// The short mode of `pnpm --filter @teal/demo fuzz`, with the seed it prints.
// The response bounds are generous here: CI shares its cores with other
// suites; the quiet-machine bounds (200 ms, 50 ms) are the CLI's defaults.
const SEED = Number(process.env.TEAL_FUZZ_SEED ?? DEFAULT_SEED);

describe('the fuzzer (short mode)', () => {
  it(`finds no 5xx, slow answer, secret in the log or leak (seed ${SEED})`, async () => {
    console.log(`fuzz: seed ${SEED} (replay: pnpm --filter @teal/demo fuzz --seed=${SEED})`);
    const report = await runFuzz({
      ...SHORT,
      seed: SEED,
      maxResponseMs: 2_000,
      maxHealthMs: 1_000,
      report: () => {},
    });
    console.log(`fuzz: ${JSON.stringify(report)}`);
    expect(report.requests).toBe(SHORT.requests);
    expect(report.frames).toBeGreaterThan(SHORT.sockets);
  }, 120_000);
});
