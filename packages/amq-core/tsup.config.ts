import { defineConfig } from 'tsup';
import { baseBuild } from '../../tsup.config.base.ts';

export default defineConfig({
  ...baseBuild,
  entry: { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' },
  // The suite imports the main entry by name, so both bundles share its classes.
  external: ['@teal/amq-core'],
});
