import { defineConfig } from 'vitest/config';

/** Tests import workspace packages from source through the `@teal/source` condition. */
export const baseTest = defineConfig({
  resolve: { conditions: ['@teal/source', 'import', 'module', 'node', 'default'] },
  ssr: { resolve: { conditions: ['@teal/source', 'import', 'module', 'node', 'default'] } },
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
  },
});
