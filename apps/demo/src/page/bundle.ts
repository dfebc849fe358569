import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ENTRY = fileURLToPath(new URL('./browser/main.ts', import.meta.url));

let bundled: Promise<string> | null = null;

/**
 * The page's script with `@teal/messages` bundled in, for browsers: built
 * once per process, from source. `platform: 'browser'` fails the build if
 * anything reaches for a Node built-in.
 */
export function pageScript(): Promise<string> {
  bundled ??= build({
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    conditions: ['@teal/source'],
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  }).then((result) => {
    const output = result.outputFiles[0];
    if (output === undefined) throw new Error('[@teal/demo] esbuild produced no page script');
    return output.text;
  });
  return bundled;
}
