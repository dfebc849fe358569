import { defineConfig } from 'vitest/config';
import { baseTest } from '../../vitest.config.base.ts';

export default defineConfig({
  ...baseTest,
  test: { ...baseTest.test, testTimeout: 120_000, hookTimeout: 300_000 },
});
