import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '../..');

/** The tests run the built binary, as users do: refuse to test a missing or stale build. */
export function setup(): void {
  const cli = join(root, 'dist/cli.js');
  const build = 'pnpm --filter @teal/amq-cli build (turbo builds it first with pnpm test)';
  if (!existsSync(cli)) throw new Error(`dist/cli.js is missing: run ${build}`);
  const builtAt = statSync(cli).mtimeMs;
  const stale = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' }).find(
    (file) => file.endsWith('.ts') && statSync(join(root, 'src', file)).mtimeMs > builtAt,
  );
  if (stale !== undefined) throw new Error(`dist/cli.js is older than src/${stale}: run ${build}`);
}
