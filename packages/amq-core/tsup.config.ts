import { defineConfig } from 'tsup';
import { baseBuild } from '../../tsup.config.base.ts';

export default defineConfig({
  ...baseBuild,
  entry: {
    index: 'src/index.ts',
    adapter: 'src/adapter.ts',
    'testing/index': 'src/testing/index.ts',
  },
  // The entries import each other by name (the application entry re-exports the
  // adapter entry's classes, the suite uses both), so every class exists once.
  external: [/^@teal\/amq-core(\/.*)?$/],
});
