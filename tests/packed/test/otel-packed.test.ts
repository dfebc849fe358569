import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OTEL_CJS_SCRIPT, OTEL_ESM_SCRIPT, OTEL_TYPED_CONSUMER } from './otel-consumers';

const run = promisify(execFile);
const root = resolve(__dirname, '../../..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const PACKAGES = ['messages', 'amq-core', 'amq-otel'];
// The OpenTelemetry line that still supports Node 20, as an application would install it.
const OPENTELEMETRY = [
  '@opentelemetry/api@1.9',
  '@opentelemetry/context-async-hooks@2.12.0',
  '@opentelemetry/core@2.12.0',
  '@opentelemetry/sdk-trace-base@2.12.0',
];

const workdir = mkdtempSync(join(tmpdir(), 'teal-packed-otel-'));
afterAll(() => rmSync(workdir, { recursive: true, force: true }));

describe('@teal/amq-otel installed from its tarball with npm', () => {
  beforeAll(async () => {
    const packs = join(workdir, 'packs');
    mkdirSync(packs);
    for (const dir of PACKAGES) {
      await run('pnpm', ['pack', '--pack-destination', packs], {
        cwd: join(root, 'packages', dir),
      });
    }
    const tarballs = readdirSync(packs).map((file) => join(packs, file));
    expect(tarballs).toHaveLength(PACKAGES.length);
    writeFileSync(
      join(workdir, 'package.json'),
      JSON.stringify({ name: 'consumer-otel', private: true }),
    );
    await run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        ...tarballs,
        ...OPENTELEMETRY,
        '@types/node@20',
      ],
      { cwd: workdir },
    );
  });

  for (const [format, file, source] of [
    ['ESM import', 'otel.mjs', OTEL_ESM_SCRIPT],
    ['CJS require', 'otel.cjs', OTEL_CJS_SCRIPT],
  ] as const) {
    it(`traces a send and its delivery in one trace, continued from the message (${format})`, async () => {
      writeFileSync(join(workdir, file), source);
      const { stdout } = await run('node', [file], { cwd: workdir });
      expect(JSON.parse(stdout)).toEqual({
        names: ['process callbacks', 'send callbacks'],
        traces: 1,
        isContinued: true,
        isRefusedTwice: true,
      });
    });
  }

  it('type-checks a TypeScript consumer against the shipped declarations (ESM and CJS)', async () => {
    writeFileSync(join(workdir, 'observe.mts'), OTEL_TYPED_CONSUMER);
    writeFileSync(join(workdir, 'observe.cts'), OTEL_TYPED_CONSUMER);
    const compilerOptions = {
      noEmit: true,
      strict: true,
      module: 'nodenext',
      moduleResolution: 'nodenext',
      target: 'es2022',
      types: ['node'],
    };
    writeFileSync(
      join(workdir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions, files: ['observe.mts', 'observe.cts'] }),
    );
    const result = await run('node', [tsc, '-p', 'tsconfig.json'], { cwd: workdir }).catch(
      (error: { stdout: string }) => ({ stdout: error.stdout }),
    );
    expect(result.stdout).toBe('');
  });
});
