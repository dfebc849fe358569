import { performance } from 'node:perf_hooks';
import { type AMQSettings, maskUrl } from '@teal/amq-core';
import { cliLogger } from '../broker';
import { BROKER_FLAGS, type Command, type ParsedArgs, stringFlag } from '../command';
import { type Check, type CheckStatus, runChecks } from '../doctor/checks';
import { CliError, type CliIo, EXIT } from '../io';
import { brokerSettings } from '../settings';
import { type Style, styleFor } from '../style';
import { formatMs, parseDuration } from '../values';

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check the broker end to end and say what is wrong',
  usage: ['teal-amq doctor [--timeout 10s] [--json]'],
  details: [
    'Checks, in order: the adapter package of the URL, the broker (kind and version as it tells them, with its own client library), a handler connection (which declares the exchanges), a bind on a random callback key, one message sent and received on it (the latency), the clock (the timestamp round-trips; the broker clock against this one where the broker tells its time: Redis, PostgreSQL), and close. A failed step says what is wrong and what to do, one line each; the steps after it are skipped.',
    'Exits 0 when every check passed (warnings allowed), 1 otherwise.',
  ],
  flags: {
    timeout: {
      type: 'string',
      value: 'DURATION',
      description: 'how long each step may take. Default: 10s',
    },
    json: { type: 'boolean', description: 'print the checks as one JSON object instead' },
    ...BROKER_FLAGS,
  },
  examples: [
    'teal-amq doctor',
    'AMQP_URL=amqp://guest:guest@rabbit.internal:5672 teal-amq doctor --timeout 3s',
    'teal-amq doctor --json | jq \'.checks[] | select(.status != "ok")\'',
  ],
  run: runDoctor,
};

const LABELS: Readonly<Record<CheckStatus, string>> = {
  ok: 'ok',
  warn: 'warn',
  fail: 'FAIL',
  skip: 'skip',
};

async function runDoctor(parsed: ParsedArgs, io: CliIo): Promise<number> {
  const timeoutMs = parseDuration('timeout', stringFlag(parsed, 'timeout') ?? '10s', 'doctor');
  const isJson = parsed.values.json === true;
  const style = styleFor(io.stdout, io.env);
  const checks: Check[] = [];
  const warnings: string[] = [];
  const started = performance.now();
  const print = (check: Check) => {
    checks.push(check);
    if (!isJson) io.stdout.write(renderCheck(check, style));
  };

  let settings: AMQSettings | null = null;
  try {
    settings = brokerSettings(parsed.values, io.env);
    print({
      name: 'settings',
      status: 'ok',
      detail: `${maskUrl(settings.url)}, exchange prefix ${JSON.stringify(settings.exchangePrefix ?? '')}`,
    });
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    print({
      name: 'settings',
      status: 'fail',
      detail: error.message,
      remedy:
        'set AMQP_URL to the broker URL (memory://, amqp://user:password@host:5672, redis://host:6379, nats://host:4222, postgres://user@host:5432/db), or pass --amqp-url',
    });
  }
  let broker = null;
  if (settings !== null) {
    const logger = cliLogger({
      ...io,
      stderr: { write: (text: string) => warnings.push(text.trimEnd()) },
    });
    ({ broker } = await runChecks({ settings, timeoutMs, logger }, print));
  }
  const failed = checks.filter((check) => check.status === 'fail').length;
  const warned = checks.filter((check) => check.status === 'warn').length;
  const elapsed = performance.now() - started;
  if (isJson) {
    io.stdout.write(
      `${JSON.stringify({
        ok: failed === 0,
        url: settings === null ? null : maskUrl(settings.url),
        exchangePrefix: settings?.exchangePrefix ?? null,
        broker,
        checks: checks.map((check) =>
          check.ms === undefined ? check : { ...check, ms: Math.round(check.ms * 100) / 100 },
        ),
        warnings,
      })}\n`,
    );
  } else {
    for (const warning of warnings) io.stdout.write(`      ${style.dim(warning)}\n`);
    io.stdout.write(
      failed === 0
        ? `${style.ok(`all ${checks.length} checks passed`)}${warned === 0 ? '' : `, ${warned} with a warning`} in ${formatMs(elapsed)}\n`
        : `${style.fail(`${failed} check${failed === 1 ? '' : 's'} failed`)} in ${formatMs(elapsed)}\n`,
    );
  }
  return failed === 0 ? EXIT.ok : EXIT.failure;
}

function renderCheck(check: Check, style: Style): string {
  const paint = { ok: style.ok, warn: style.warn, fail: style.fail, skip: style.dim }[check.status];
  const took = check.ms === undefined ? '' : style.dim(` · ${formatMs(check.ms)}`);
  const line = `${paint(LABELS[check.status].padEnd(5))} ${check.name.padEnd(11)} ${check.status === 'skip' ? style.dim(check.detail) : check.detail}${took}\n`;
  return check.remedy === undefined
    ? line
    : `${line}${' '.repeat(18)}${style.bold('remedy:')} ${check.remedy}\n`;
}
