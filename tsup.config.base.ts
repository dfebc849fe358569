import type { Options } from 'tsup';

/** The one build every package spreads: ESM + CJS + declarations for both. */
export const baseBuild: Options = {
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: false,
  treeshake: true,
};
