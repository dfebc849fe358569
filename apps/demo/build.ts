// `pnpm --filter @teal/demo build`: the service as `dist/main.js`, which
// `node dist/main.js` runs with no TypeScript loader and no bundler, and the
// page's assets in `dist/page/`, built now rather than at each start.
// Dependencies stay imports from node_modules, the workspace packages
// included (their builds): build them first (`pnpm build` at the root does,
// and so does `pnpm --filter @teal/demo... build`).
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { build } from 'esbuild';
import { buildPageScript } from './src/page/bundle';

const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as {
  dependencies: Record<string, string>;
};
const require = createRequire(import.meta.url);
for (const name of Object.keys(manifest.dependencies).filter((dep) => dep.startsWith('@teal/'))) {
  let entry: string | null = null;
  try {
    entry = require.resolve(name);
  } catch {}
  if (entry === null || !existsSync(entry)) {
    console.error(`[@teal/demo] ${name} is not built: run pnpm --filter @teal/demo... build`);
    process.exit(1);
  }
}

rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: ['src/main.ts'],
  outdir: 'dist',
  bundle: true,
  // Keeps `import('./server')` a separate chunk loaded after telemetry starts, as in the source.
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
mkdirSync('dist/page', { recursive: true });
writeFileSync('dist/page/app.js', await buildPageScript());
for (const asset of ['index.html', 'app.css'])
  copyFileSync(`src/page/${asset}`, `dist/page/${asset}`);
console.log('[@teal/demo] built dist/main.js and dist/page/');
