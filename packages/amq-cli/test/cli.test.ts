import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CLI, runCli } from './support/cli';

const { version } = JSON.parse(readFileSync(join(__dirname, '../package.json'), 'utf8')) as {
  version: string;
};
const MEMORY = { AMQP_URL: 'memory://' };
const COMMANDS = ['send', 'listen', 'wait', 'doctor', 'bench', 'completion'];

describe('help and version', () => {
  it('--version prints the package version', async () => {
    const result = await runCli(['--version']);
    expect(result).toMatchObject({ code: 0, stdout: `teal-amq ${version}\n` });
  });

  it('--help lists every command, the settings and the exit codes', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    for (const name of COMMANDS) expect(result.stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
    expect(result.stdout).toContain('AMQP_URL');
    expect(result.stdout).toContain('AMQP_EXCHANGE_PREFIX');
    expect(result.stdout).toContain('2 wait timed out');
  });

  it.each(COMMANDS)('%s --help shows usage, options and examples', async (name) => {
    const result = await runCli([name, '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage\n {2}teal-amq /m);
    expect(result.stdout).toContain('-h, --help');
    expect(result.stdout).toMatch(/^Examples\n {2}\$ /m);
    expect(await runCli(['help', name])).toMatchObject({ code: 0, stdout: result.stdout });
  });

  it('no command prints the help and exits 64', async () => {
    const result = await runCli([]);
    expect(result.code).toBe(64);
    expect(result.stdout).toContain('Commands');
  });
});

describe.concurrent('usage errors exit 64 and say what is wrong', () => {
  it.each([
    [['frobnicate'], /unknown command "frobnicate": use send, listen/],
    [
      ['send', 'callback', '--state', 's', '--bogus'],
      /Unknown option '--bogus'.*teal-amq send --help/,
    ],
    [['send', 'callback', '--state', 's'], /--url is required/],
    [['send'], /what to send\? give callback, ciba, powens/],
    [
      ['send', 'callback', '--state', 's', '--url', 'u', '--domain', 'd'],
      /--domain belongs to send powens/,
    ],
    [['send', '--raw', '{}'], /--raw needs --kind/],
    [['listen', 'callback'], /give at least one state/],
    [['listen', 'telegram', 'k'], /unknown kind "telegram": use callback, ciba, powens/],
    [['wait', 'callback', 'k', '--timeout', 'soon'], /--timeout must be a duration such as 30s/],
    [['bench', '--seconds', '0'], /--seconds must be a whole number from 1 to 3600/],
    [['completion', 'fish'], /give bash or zsh, not "fish"/],
    [
      ['send', 'powens', '--domain', 'd', '--event', 'e', '--payload', '@/nonexistent/file'],
      /--payload: cannot read \/nonexistent\/file: no such file/,
    ],
  ])('teal-amq %j', async (args, message) => {
    const result = await runCli(args, MEMORY);
    expect(result.stderr).toMatch(message);
    expect(result.code).toBe(64);
  });

  it('without AMQP_URL, names the variable and the flag', async () => {
    const result = await runCli([
      'send',
      'callback',
      '--state',
      's',
      '--url',
      'https://app.test/cb',
    ]);
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(/AMQP_URL is not set.*\(or pass --amqp-url\)/);
  });
});

describe.concurrent('send validates the message before connecting', () => {
  it.each([
    [
      ['send', '--raw', '{"state": 42, "url": "u"}', '--kind', 'callback'],
      /invalid callback message: .*state/,
    ],
    [
      ['send', '--raw', 'not json', '--kind', 'callback'],
      /invalid callback message: .*not valid JSON/,
    ],
    [
      ['send', 'ciba', '--request-id', 'r', '--push-token-json', '{"access_token": "a"}'],
      /invalid openid_ciba_callback message: .*push_token/,
    ],
    [
      ['send', 'ciba', '--request-id', 'r', '--push-token-json', '{not json'],
      /--push-token-json is not JSON/,
    ],
    [
      ['send', 'powens', '--domain', 'd', '--event', 'e', '--signature', 'not base64!'],
      /--signature: .*not base64/,
    ],
    [
      [
        'send',
        'powens',
        '--domain',
        'd',
        '--event',
        'e',
        '--signature',
        'c2ln',
        '--signature-date',
        'yesterday',
      ],
      /--signature-date: .*ISO 8601/,
    ],
  ])('teal-amq %j exits 65', async (args, message) => {
    // An unreachable broker: the validation must fail before any connection is tried.
    const result = await runCli(args, { AMQP_URL: 'amqp://127.0.0.1:1' });
    expect(result.stderr).toMatch(message);
    expect(result.code).toBe(65);
  });

  it('reads values from files and standard input, and never echoes the secrets', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'teal-cli-'));
    writeFileSync(join(dir, 'token.txt'), 'user-token-secret');
    const result = await runCli(
      [
        'send',
        'powens',
        '--domain',
        'example.biapi.pro',
        '--event',
        'USER_CREATED',
        '--payload',
        '-',
        '--user-token',
        `@${join(dir, 'token.txt')}`,
      ],
      MEMORY,
      '{"user": {"id": 1}}',
    );
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(
      /^sent powens_webhook message, domain example\.biapi\.pro, in [\d.]+ m?s\n$/,
    );
  });
});

describe('on the in-process broker', () => {
  it('doctor passes every check and says the broker is in this process', async () => {
    const result = await runCli(['doctor'], MEMORY);
    expect(result.stdout).toMatch(/^ok +adapter +the in-process broker of @teal\/amq-core/m);
    expect(result.stdout).toMatch(
      /^ok +round trip +one callback message: accepted by the broker in .*, delivered in/m,
    );
    expect(result.stdout).toMatch(/^all 8 checks passed/m);
    expect(result.code).toBe(0);
  });

  it('doctor --json gives the same checks as data', async () => {
    const result = await runCli(['doctor', '--json'], MEMORY);
    const report = JSON.parse(result.stdout) as {
      ok: boolean;
      checks: Array<{ name: string; status: string }>;
    };
    expect(report.ok).toBe(true);
    expect(report.checks.map((check) => check.name)).toEqual([
      'settings',
      'adapter',
      'broker',
      'connect',
      'bind',
      'round trip',
      'clock',
      'close',
    ]);
    expect(new Set(report.checks.map((check) => check.status))).toEqual(new Set(['ok']));
  });

  it('bench measures for the seconds asked and loses nothing', async () => {
    const result = await runCli(
      ['bench', '--seconds', '1', '--concurrency', '4', '--json'],
      MEMORY,
    );
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as {
      sent: number;
      received: number;
      lost: number;
      seconds: number;
      throughputPerSecond: number;
      latencyMs: { p50: number; p99: number };
    };
    expect(summary.sent).toBeGreaterThan(0);
    expect(summary.received).toBe(summary.sent);
    expect(summary.lost).toBe(0);
    expect(summary.seconds).toBeGreaterThanOrEqual(1);
    expect(summary.throughputPerSecond).toBeGreaterThan(0);
    expect(summary.latencyMs.p99).toBeGreaterThanOrEqual(summary.latencyMs.p50);
  });

  it('bench prints a readable summary', async () => {
    const result = await runCli(['bench', '--seconds', '1'], MEMORY);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^throughput +[\d,]+ msg\/s$/m);
    expect(result.stdout).toMatch(/^send → callback +p50 .* · p99 .* · max /m);
  });
});

describe('colours', () => {
  const hasScript = (() => {
    try {
      execFileSync('script', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  /** Runs the CLI on a pseudo-terminal (util-linux `script`), as an operator's shell does. */
  const onTerminal = (env: Record<string, string>) =>
    execFileSync('script', ['-qec', `${process.execPath} ${CLI} doctor`, '/dev/null'], {
      env: { ...process.env, TERM: 'xterm', ...env, AMQP_URL: 'memory://' },
      encoding: 'utf8',
    });

  it('are off when the output is not a terminal', async () => {
    const result = await runCli(['doctor'], MEMORY);
    expect(result.stdout).not.toContain('\u001b[');
  });

  it.skipIf(!hasScript)('are on on a terminal, and off there with NO_COLOR', () => {
    const { NO_COLOR: _unset, ...env } = process.env;
    expect(onTerminal(env as Record<string, string>)).toContain('\u001b[32mok');
    expect(onTerminal({ ...(env as Record<string, string>), NO_COLOR: '1' })).not.toContain(
      '\u001b[',
    );
  });
});

describe('completion', () => {
  // Printed once; each case then runs a bash, asynchronously: on the loaded CI machine of
  // stop 28 the six cases took 36-60 s as blocking calls (under 0.5 s alone), past the
  // default timeout, while no assertion failed.
  const execFileAsync = promisify(execFile);
  const run = async (file: string, args: string[]) =>
    (await execFileAsync(file, args, { encoding: 'utf8' })).stdout;
  let printed: Promise<string> | undefined;
  const complete = async (line: string) => {
    printed ??= run(process.execPath, [CLI, 'completion', 'bash']);
    const words = line.split(' ');
    const script = `${await printed}
COMP_WORDS=(${words.map((word) => `'${word}'`).join(' ')}); COMP_CWORD=${words.length - 1}
_teal_amq; printf '%s\\n' "\${COMPREPLY[@]}"`;
    return (await run('bash', ['-c', script])).trim().split('\n');
  };

  it('bash completes commands, kinds and flags', async () => {
    expect(await complete('teal-amq ')).toEqual([...COMMANDS, '--help', '--version']);
    expect(await complete('teal-amq li')).toEqual(['listen']);
    expect(await complete('teal-amq listen ')).toEqual(['callback', 'ciba', 'powens']);
    expect(await complete('teal-amq send --ki')).toEqual(['--kind']);
    expect(await complete('teal-amq send --raw --kind ')).toEqual(['callback', 'ciba', 'powens']);
    expect(await complete('teal-amq doctor --')).toEqual([
      '--timeout',
      '--json',
      '--amqp-url',
      '--exchange-prefix',
      '--help',
    ]);
  }, 120_000);

  it('zsh gets a #compdef function with every command', async () => {
    const result = await runCli(['completion', 'zsh']);
    expect(result.code).toBe(0);
    expect(result.stdout.startsWith('#compdef teal-amq\n')).toBe(true);
    for (const name of COMMANDS) expect(result.stdout).toContain(`    ${name})`);
  });
});
