import { DEFAULT_SEED, type FuzzOptions, LONG, runFuzz, SHORT } from './fuzzer';

/**
 * `pnpm --filter @teal/demo fuzz [--long] [--seed=N] [--max-response-ms=N] [--max-health-ms=N]`:
 * the short mode is what CI runs (through test/fuzz.test.ts); `--long` sends
 * ten times as much. The seed is printed first: the same seed replays the run.
 */
function numberArgument(args: readonly string[], name: string): number | undefined {
  const text = args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new Error(`--${name} must be an integer, not "${text}"`);
  return value;
}

const args = process.argv.slice(2);
const seed = numberArgument(args, 'seed') ?? DEFAULT_SEED;
const mode = args.includes('--long') ? LONG : SHORT;
const options: FuzzOptions = {
  ...mode,
  seed,
  maxResponseMs: numberArgument(args, 'max-response-ms') ?? mode.maxResponseMs,
  maxHealthMs: numberArgument(args, 'max-health-ms') ?? mode.maxHealthMs,
  report: (line) => console.log(line),
};
console.log(
  `fuzz: seed ${seed}, ${options.requests} requests, ${options.sockets} WebSocket sessions (replay: pnpm --filter @teal/demo fuzz --seed=${seed}${mode === LONG ? ' --long' : ''})`,
);
try {
  const report = await runFuzz(options);
  console.log(JSON.stringify(report, null, 2));
  process.exit(0);
} catch (error) {
  console.error(`fuzz: FAILED with seed ${seed}: ${(error as Error).message}`);
  process.exit(1);
}
