import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript source through `@teal/source`.
// Vitest hands the server conditions to Node as --conditions: `import` must not
// be among them, or require() of a dual package gets its ESM entry; Node adds
// import/require by itself.
const serverConditions = ['@teal/source', 'node', 'development|production'];

export const baseTest = defineConfig({
  resolve: { conditions: serverConditions },
  ssr: { resolve: { conditions: serverConditions } },
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // `pnpm test:failover` writes its own report beside the one of `pnpm test`.
    reporters: [
      'default',
      ['json', { outputFile: process.env.TEAL_TEST_REPORT ?? 'test-results/vitest.json' }],
    ],
  },
});
