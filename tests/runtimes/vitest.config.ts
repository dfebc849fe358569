import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vitest/config';
import { defineConfig } from 'vitest/config';
import { baseTest } from '../../vitest.config.base.ts';
import { currentRuntime } from './runtimes.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const runtime = currentRuntime();

/**
 * The packages' own test files, run here against what users install: each
 * package's `dist/`. Workspace packages resolve through their `exports`
 * without the `@teal/source` condition, and a test's relative import of its
 * package's public entry (`../src/index`) is sent to the built file.
 */
export const SUITES = [
  // The whole @teal/messages suite: codec, golden vectors, Powens HMAC vectors, properties, bundle.
  'packages/messages/test/*.test.ts',
  // The handler contract on the in-process broker and on each adapter's real broker.
  'packages/amq-core/test/contract.test.ts',
  'packages/amq-amqp/test/contract.test.ts',
  'packages/amq-redis-streams/test/contract.test.ts',
  'packages/amq-nats/test/contract.test.ts',
  'packages/amq-postgres/test/contract.test.ts',
  // OpenTelemetry spans and metrics from core's diagnostics channels, on the memory broker.
  'packages/amq-otel/test/*.test.ts',
  // This package's own check that the run is on the runtime it names.
  'tests/runtimes/test/*.test.ts',
];

interface ExportEntry {
  readonly '@teal/source'?: string;
  readonly import?: { readonly default?: string };
}

/**
 * Every public entry of every package, its source file (without extension) →
 * its built ES module, read from the `exports` of each package.json: internal
 * modules a test helper imports stay source.
 */
function builtEntryMap(): Map<string, string> {
  const entries = new Map<string, string>();
  const packagesDir = join(root, 'packages');
  for (const name of readdirSync(packagesDir)) {
    const manifest = join(packagesDir, name, 'package.json');
    if (!existsSync(manifest)) continue;
    const { exports = {} } = JSON.parse(readFileSync(manifest, 'utf8')) as {
      exports?: Record<string, ExportEntry | string>;
    };
    for (const entry of Object.values(exports)) {
      if (typeof entry === 'string') continue;
      const source = entry['@teal/source'];
      const built = entry.import?.default;
      if (source === undefined || built === undefined) continue;
      entries.set(
        join(packagesDir, name, source).replace(/\.ts$/, ''),
        join(packagesDir, name, built),
      );
    }
  }
  return entries;
}

/** Sends `../src/index` (and core's `adapter`, `testing/index`) of a test file to the built entry. */
function toBuiltEntries(): Plugin {
  const builtEntries = builtEntryMap();
  return {
    name: 'teal:built-entries',
    enforce: 'pre',
    resolveId(source, importer) {
      if (importer === undefined || !source.startsWith('.')) return null;
      const target = resolve(dirname(importer), source).replace(/\.(ts|js)$/, '');
      const built = builtEntries.get(target);
      if (built === undefined) return null;
      if (!existsSync(built)) {
        throw new Error(
          `[runtime-tests] ${built} is missing: build the packages first (pnpm build)`,
        );
      }
      return built;
    },
  };
}

// Node adds import/require by itself; without `@teal/source`, exports resolve to dist/.
const conditions = ['node', 'development|production'];

export default defineConfig({
  root,
  plugins: [toBuiltEntries()],
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    ...baseTest.test,
    // Whole-test limits only (the contract's own deadlines stay as written): a
    // listing by rabbitmqctl takes seconds on a busy machine, and one contract
    // case of the amqp target makes several (seen at 28 s of the usual 30).
    testTimeout: 120_000,
    hookTimeout: 120_000,
    name: runtime.name,
    include: SUITES,
    // The contract waits on brokers far more than it computes: two files at a
    // time, even on two cores (TEAL_RUNTIME_WORKERS to change it).
    maxWorkers: Number(process.env.TEAL_RUNTIME_WORKERS ?? 2),
    reporters: [
      'default',
      [
        'json',
        { outputFile: join(root, `tests/runtimes/test-results/vitest-${runtime.name}.json`) },
      ],
    ],
    server: { deps: { external: [/\/packages\/[^/]+\/dist\//] } },
  },
});
