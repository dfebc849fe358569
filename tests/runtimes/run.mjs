// Runs the suites of vitest.config.ts — the packages' own test files, against
// their built dist/ — with vitest itself on Node 22, Node 24, Bun and Deno in
// turn, each binary from this package's devDependencies (nothing is downloaded
// here). A runtime's failures do not stop the next runtime; the exit code is
// non-zero when any runtime failed.
//
//   node run.mjs                       every runtime
//   node run.mjs bun deno              these runtimes only (TEAL_RUNTIMES=bun,deno too)
//   node run.mjs bun -- packages/amq-nats   extra arguments go to vitest
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const packageDir = (name) => dirname(require.resolve(`${name}/package.json`));

/** Each runtime: its binary in its package, and the arguments that make it run a Node script. */
const RUNTIMES = {
  'node-22': { binary: () => join(packageDir('node-22'), 'bin/node'), args: [] },
  'node-24': { binary: () => join(packageDir('node-24'), 'bin/node'), args: [] },
  // --bun: vitest's workers, started through `node`, run on Bun too.
  bun: { binary: () => join(packageDir('bun'), 'bin/bun.exe'), args: ['--bun'] },
  deno: { binary: () => join(packageDir('deno'), 'deno'), args: ['run', '--allow-all'] },
};

// `pnpm test -- …` hands the `--` on: one leading `--` is dropped.
const argv = process.argv[2] === '--' ? process.argv.slice(3) : process.argv.slice(2);
const separator = argv.indexOf('--');
const named = separator === -1 ? argv : argv.slice(0, separator);
const vitestArgs = separator === -1 ? [] : argv.slice(separator + 1);
const wanted = named.length > 0 ? named : (process.env.TEAL_RUNTIMES?.split(',') ?? []);
const selected = wanted.length > 0 ? wanted : Object.keys(RUNTIMES);
for (const name of selected) {
  if (!(name in RUNTIMES)) {
    console.error(
      `[runtime-tests] unknown runtime '${name}': pick from ${Object.keys(RUNTIMES).join(', ')}`,
    );
    process.exit(2);
  }
}

const vitest = join(packageDir('vitest'), 'vitest.mjs');

/** Runs vitest on one runtime; resolves with its exit code. */
function runOn(name) {
  const runtime = RUNTIMES[name];
  const binary = runtime.binary();
  if (!existsSync(binary)) {
    console.error(
      `[runtime-tests] ${name}: no binary at ${binary}; its package's install script did not run (pnpm runs it when the package is in onlyBuiltDependencies of pnpm-workspace.yaml)`,
    );
    return Promise.resolve(1);
  }
  const args = [
    ...runtime.args,
    vitest,
    'run',
    '--config',
    join(here, 'vitest.config.ts'),
    ...vitestArgs,
  ];
  console.log(`\n[runtime-tests] ${name}: ${binary} ${args.join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(binary, args, {
      cwd: here,
      stdio: 'inherit',
      env: { ...process.env, TEAL_RUNTIME: name },
    });
    child.on('error', (error) => {
      console.error(`[runtime-tests] ${name}: ${error.message}`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** What the runtime's JSON report counted, or why there is none. */
function countsOf(name) {
  const path = join(here, 'test-results', `vitest-${name}.json`);
  try {
    const report = JSON.parse(readFileSync(path, 'utf8'));
    return `${report.numPassedTests} passed, ${report.numFailedTests} failed, ${report.numPendingTests} skipped`;
  } catch {
    return 'no report';
  }
}

const results = [];
for (const name of selected) {
  const started = Date.now();
  const code = await runOn(name);
  results.push({ name, code, seconds: Math.round((Date.now() - started) / 1000) });
}

console.log('\n[runtime-tests] summary');
for (const { name, code, seconds } of results) {
  const verdict = code === 0 ? 'ok    ' : 'FAILED';
  console.log(`  ${verdict} ${name.padEnd(8)} ${String(seconds).padStart(4)} s  ${countsOf(name)}`);
}
process.exitCode = results.some((result) => result.code !== 0) ? 1 : 0;
