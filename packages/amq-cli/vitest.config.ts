import { defineConfig } from 'vitest/config';
import { baseTest } from '../../vitest.config.base.ts';

export default defineConfig({
  ...baseTest,
  test: { ...baseTest.test, globalSetup: ['test/support/built.ts'] },
});
