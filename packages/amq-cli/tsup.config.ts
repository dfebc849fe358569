import { defineConfig } from 'tsup';
import { baseBuild } from '../../tsup.config.base.ts';

export default defineConfig({
  ...baseBuild,
  // `index` is the programmatic entry, `run(argv)`; `cli` is the binary plain
  // `node` runs (tsup keeps its shebang and marks it executable).
  entry: { index: 'src/index.ts', cli: 'src/cli.ts' },
  dts: { entry: { index: 'src/index.ts' } },
  // import.meta.url in the CommonJS build, to find the packages beside this one.
  shims: true,
});
