import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * A page asset: from `page/` beside the built bundle (`dist/page/`), else
 * from this folder of the source; `null` when neither has it.
 */
export function pageAssetPath(name: string): string | null {
  for (const url of [
    new URL(`./page/${name}`, import.meta.url),
    new URL(`./${name}`, import.meta.url),
  ]) {
    const path = fileURLToPath(url);
    if (existsSync(path)) return path;
  }
  return null;
}

let bundled: Promise<string> | null = null;

/**
 * The page's script with `@teal/messages` bundled in, for browsers: the one
 * the build wrote (`dist/page/app.js`), or built once per process from source.
 */
export function pageScript(): Promise<string> {
  bundled ??= (async () => {
    const built = pageAssetPath('app.js');
    return built === null ? buildPageScript() : readFileSync(built, 'utf8');
  })();
  return bundled;
}

/**
 * Bundles the page's script from source with esbuild, loaded only then: the
 * built service never loads a bundler. `platform: 'browser'` fails the build
 * if anything reaches for a Node built-in.
 */
export async function buildPageScript(): Promise<string> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [fileURLToPath(new URL('./browser/main.ts', import.meta.url))],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    conditions: ['@teal/source'],
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error('[@teal/demo] esbuild produced no page script');
  return output.text;
}
