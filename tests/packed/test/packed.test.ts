import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { brokersRequired, probeBroker } from '@teal/amq-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CJS_INSTANCEOF_SCRIPT,
  CJS_SCRIPT,
  ESM_SCRIPT,
  MISSING_ADAPTER_SCRIPT,
  typedConsumer,
} from './consumers';

const run = promisify(execFile);
const root = resolve(__dirname, '../../..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const PACKAGES = [
  'messages',
  'amq-core',
  'amq-amqp',
  'amq-redis-streams',
  'amq-nats',
  'amq-postgres',
  'amq-cli',
];

/** One consumer project per broker: the packages a user of that broker installs, and nothing else. */
const PROJECTS = [
  { broker: 'memory', url: 'memory://', adapter: null },
  {
    broker: 'amqp',
    url: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    adapter: '@teal/amq-amqp',
  },
  {
    broker: 'redis',
    url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    adapter: '@teal/amq-redis-streams',
  },
  {
    broker: 'nats',
    url: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
    adapter: '@teal/amq-nats',
  },
  {
    broker: 'postgres',
    url: process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    adapter: '@teal/amq-postgres',
  },
] as const;

const workdir = mkdtempSync(join(tmpdir(), 'teal-packed-'));
const tarballs = new Map<string, string>();

beforeAll(async () => {
  const packs = join(workdir, 'packs');
  mkdirSync(packs);
  for (const dir of PACKAGES) {
    await run('pnpm', ['pack', '--pack-destination', packs], { cwd: join(root, 'packages', dir) });
  }
  for (const file of readdirSync(packs)) {
    const dir = PACKAGES.find((name) => file.startsWith(`teal-${name}-`));
    if (dir) tarballs.set(dir, join(packs, file));
  }
  expect([...tarballs.keys()].sort()).toEqual([...PACKAGES].sort());
});

afterAll(() => rmSync(workdir, { recursive: true, force: true }));

const tag = () => Math.random().toString(36).slice(2, 10);

for (const project of PROJECTS) {
  const unavailable = project.broker === 'memory' ? null : await probeBroker(project.url);
  const title = `installed from tarballs with npm, for ${project.broker}`;
  if (unavailable && !brokersRequired()) console.warn(`[teal] SKIPPED ${title}: ${unavailable}`);

  describe.skipIf(unavailable !== null && !brokersRequired())(title, () => {
    const dir = join(workdir, project.broker);

    beforeAll(async () => {
      if (unavailable)
        throw new Error(
          `${project.broker}: ${unavailable}, and TEAL_REQUIRE_BROKERS=1 requires it`,
        );
      mkdirSync(dir);
      writeFileSync(
        join(dir, 'package.json'),
        JSON.stringify({ name: `consumer-${project.broker}`, private: true }),
      );
      const wanted = [
        'messages',
        'amq-core',
        ...(project.adapter ? [project.adapter.replace('@teal/', '')] : []),
      ];
      const specs = [...wanted.map((name) => tarballs.get(name)!), '@types/node@20'];
      await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...specs], {
        cwd: dir,
      });
    });

    for (const [format, file, source] of [
      ['ESM import', 'check.mjs', ESM_SCRIPT],
      ['CJS require', 'check.cjs', CJS_SCRIPT],
    ] as const) {
      it(`binds, sends and receives one message of each kind (${format})`, async () => {
        writeFileSync(join(dir, file), source);
        const env = { ...process.env, AMQP_URL: project.url, TEAL_TAG: tag() };
        const { stdout } = await run('node', [file], { cwd: dir, env });
        expect(JSON.parse(stdout)).toEqual({
          kinds: ['callback', 'openid_ciba_callback', 'powens_webhook'],
        });
      });
    }

    for (const [types, options] of [
      ['@types/node', { types: ['node'] }],
      [
        'no Node types, the lib the README names',
        { types: [], lib: ['es2022', 'esnext.disposable', 'dom'] },
      ],
    ] as const) {
      it(`type-checks a TypeScript consumer against the shipped declarations (ESM and CJS, ${types})`, async () => {
        writeFileSync(join(dir, 'consumer.mts'), typedConsumer(project.adapter));
        writeFileSync(join(dir, 'consumer.cts'), typedConsumer(project.adapter));
        const compilerOptions = {
          noEmit: true,
          strict: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          ...options,
        };
        const config = `tsconfig.${options.types.length === 0 ? 'no-node' : 'node'}.json`;
        writeFileSync(
          join(dir, config),
          JSON.stringify({ compilerOptions, files: ['consumer.mts', 'consumer.cts'] }),
        );
        const result = await run('node', [tsc, '-p', config], { cwd: dir }).catch(
          (error: { stdout: string }) => ({ stdout: error.stdout, failed: true }),
        );
        expect(result.stdout).toBe('');
      });
    }

    if (project.adapter !== null) {
      it('keeps instanceof for an adapter error caught in a CommonJS application', async () => {
        writeFileSync(join(dir, 'instanceof.cjs'), CJS_INSTANCEOF_SCRIPT);
        const unreachable = new URL(project.url);
        unreachable.hostname = '127.0.0.1';
        unreachable.port = '1';
        const env = { ...process.env, UNREACHABLE_URL: unreachable.toString() };
        const { stdout } = await run('node', ['instanceof.cjs'], { cwd: dir, env });
        expect(JSON.parse(stdout)).toMatchObject({ isAMQError: true, isFromOtherCopy: true });
      });
    }

    if (project.adapter === null) {
      it('asked for amqp:// with only core installed, names the package to install', async () => {
        writeFileSync(join(dir, 'missing.mjs'), MISSING_ADAPTER_SCRIPT);
        const { stdout } = await run('node', ['missing.mjs'], { cwd: dir });
        expect(JSON.parse(stdout).error).toMatch(
          /^AMQAdapterMissingError: .*need the @teal\/amq-amqp package: install it with `npm i @teal\/amq-amqp`/,
        );
      });
    }
  });
}

/** The operator CLI as users install it: with one adapter, run through npx. */
const cliProject = PROJECTS.find((project) => project.broker === 'amqp')!;
const cliUnavailable = await probeBroker(cliProject.url);
const cliTitle = 'teal-amq installed from tarballs with npm, with @teal/amq-amqp';
if (cliUnavailable && !brokersRequired())
  console.warn(`[teal] SKIPPED ${cliTitle}: ${cliUnavailable}`);

describe.skipIf(cliUnavailable !== null && !brokersRequired())(cliTitle, () => {
  const dir = join(workdir, 'cli');
  // What an operator's shell has: not the NODE_PATH \`pnpm exec\` sets, which reaches this
  // workspace's packages (core's import() ignores it; a require.resolve() would not).
  const { NODE_PATH: _nodePath, ...shell } = process.env;

  beforeAll(async () => {
    if (cliUnavailable) {
      throw new Error(`amqp: ${cliUnavailable}, and TEAL_REQUIRE_BROKERS=1 requires it`);
    }
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'operator', private: true }));
    const specs = ['messages', 'amq-core', 'amq-amqp', 'amq-cli'].map(
      (name) => tarballs.get(name)!,
    );
    await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...specs], {
      cwd: dir,
    });
  });

  it('npx teal-amq doctor passes every check against RabbitMQ', async () => {
    const env = {
      ...shell,
      AMQP_URL: cliProject.url,
      AMQP_EXCHANGE_PREFIX: 'teal-packed-test.',
    };
    const { stdout } = await run('npx', ['--no-install', 'teal-amq', 'doctor'], { cwd: dir, env });
    expect(stdout).toMatch(/^ok +adapter +@teal\/amq-amqp /m);
    expect(stdout).toMatch(/^ok +broker +RabbitMQ \d+\.\d+/m);
    expect(stdout).toMatch(/^all 8 checks passed/m);
  });

  it('npx teal-amq doctor names the adapter to install for another broker', async () => {
    const env = { ...shell, AMQP_URL: 'redis://127.0.0.1:6379' };
    const result = await run('npx', ['--no-install', 'teal-amq', 'doctor'], {
      cwd: dir,
      env,
    }).catch((error: { stdout: string; code: number }) => error);
    expect(result.stdout).toMatch(
      /^FAIL +adapter +redis: URLs need @teal\/amq-redis-streams, which is not installed/m,
    );
    expect(result.stdout).toMatch(
      /remedy: install it beside the CLI: npm i @teal\/amq-cli @teal\/amq-redis-streams/,
    );
    expect((result as { code?: number }).code).toBe(1);
  });
});
