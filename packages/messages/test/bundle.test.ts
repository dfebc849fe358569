import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The package promises to run wherever Web Crypto exists (browsers, Deno, edge
// workers), so neither its source nor its bundle may reach for Node.

const packageRoot = fileURLToPath(new URL('..', import.meta.url));
const sourceDir = join(packageRoot, 'src');
const distDir = join(packageRoot, 'dist');

const sourceFiles = (readdirSync(sourceDir, { recursive: true }) as string[])
  .filter((file) => file.endsWith('.ts'))
  .map((file) => ({ file, text: readFileSync(join(sourceDir, file), 'utf8') }));

// `import … from 'x'`, `export … from 'x'`, `import 'x'`, `import('x')`, `require('x')`.
const MODULE_SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)(['"])([^'"\n]+)\1/g;

function specifiersOf(text: string): string[] {
  return Array.from(text.matchAll(MODULE_SPECIFIER), (match) => match[2]!);
}

/** Source text without comments and string literals, to look for identifiers. */
function codeOnly(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/(['"`])(?:\\.|(?!\1)[^\\\n])*\1/g, '""');
}

const nodeBuiltins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

describe('@teal/messages stays free of Node built-ins', () => {
  it('finds the source files', () => {
    expect(sourceFiles.map(({ file }) => file)).toContain('index.ts');
    expect(sourceFiles.length).toBeGreaterThanOrEqual(5);
  });

  it('imports only relative modules and zod', () => {
    for (const { file, text } of sourceFiles) {
      for (const specifier of specifiersOf(text)) {
        const isAllowed = specifier.startsWith('./') || specifier === 'zod';
        expect(isAllowed, `${file} imports ${specifier}`).toBe(true);
        expect(nodeBuiltins.has(specifier), `${file} imports ${specifier}`).toBe(false);
      }
    }
  });

  it('sees the imports it checks', () => {
    const index = sourceFiles.find(({ file }) => file === 'index.ts')!;
    expect(specifiersOf(index.text)).toContain('./codec');
    expect(specifiersOf('import { x } from \'node:crypto\';\nconst y = require("fs");')).toEqual([
      'node:crypto',
      'fs',
    ]);
  });

  it('uses no Node globals', () => {
    for (const { file, text } of sourceFiles) {
      const code = codeOnly(text);
      for (const global of ['Buffer', 'process', 'require', '__dirname', '__filename', 'global']) {
        expect(new RegExp(`\\b${global}\\b`).test(code), `${file} uses ${global}`).toBe(false);
      }
    }
  });

  // The bundle is checked when a build left one; the source checks above hold on their own.
  // turbo may run a build beside the tests, so a bundle that vanishes mid-read counts as absent.
  const bundles = ['index.js', 'index.cjs'].flatMap((file) => {
    try {
      return [{ file, text: readFileSync(join(distDir, file), 'utf8') }];
    } catch {
      return [];
    }
  });
  it.skipIf(bundles.length === 0)('ships a bundle that imports only zod', () => {
    for (const { file, text } of bundles) {
      expect(text, `${file} imports a node: module`).not.toMatch(/(?:from|require\()\s*["']node:/);
      const specifiers = specifiersOf(text);
      expect(specifiers, `dist/${file} should import zod`).toContain('zod');
      for (const specifier of specifiers) {
        expect(specifier, `dist/${file} imports ${specifier}`).toBe('zod');
      }
    }
  });
});
