import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Proves the published artifact, not the workspace: pack, install with plain npm, import.
const packages = ['messages', 'amq-core'].map((dir) => resolve(__dirname, '../..', dir));
let project: string;

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'teal-core-packed-'));
  for (const dir of packages) {
    if (!existsSync(join(dir, 'dist'))) throw new Error(`build ${dir} first: pnpm build`);
    run('pnpm', ['pack', '--pack-destination', project], dir);
  }
  const tarballs = readdirSync(project).filter((file) => file.endsWith('.tgz'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--silent', ...tarballs.map((file) => `./${file}`)],
    project,
  );
}, 180_000);

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

const script = (load: string) => `
${load}
(async () => {
  const handler = await connect({ url: 'memory://' });
  const received = new Promise((resolve) => { handler.callback = resolve; });
  await handler.bindCallbackState('packed');
  await handler.send(callbackMessage({ url: 'https://x.test/cb?state=packed', state: 'packed' }));
  const message = await received;
  await handler.close();
  let missing = '';
  try { await connect({ url: 'amqp://guest:guest@127.0.0.1:5672' }); } catch (error) { missing = error.message; }
  console.log(JSON.stringify({ kind: message.kind, state: message.state, missing }));
})().catch((error) => { console.error(error); process.exit(1); });
`;

describe('@teal/amq-core installed from its packed tarball', () => {
  for (const [format, file, load] of [
    [
      'ESM',
      'check.mjs',
      "import { connect } from '@teal/amq-core'; import { callbackMessage } from '@teal/messages';",
    ],
    [
      'CJS',
      'check.cjs',
      "const { connect } = require('@teal/amq-core'); const { callbackMessage } = require('@teal/messages');",
    ],
  ] as const) {
    it(`connects to memory:// and names the missing adapter package (${format})`, () => {
      writeFileSync(join(project, file), script(load));
      const result = JSON.parse(run('node', [file], project)) as Record<string, string>;
      expect(result).toMatchObject({ kind: 'callback', state: 'packed' });
      expect(result.missing).toMatch(
        /need the @teal\/amq-amqp package: install it with `npm i @teal\/amq-amqp`/,
      );
    });
  }
});
