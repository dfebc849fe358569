import { readFile } from 'node:fs/promises';
import { CliError, EXIT, usageError } from './io';

/** The largest file or standard input a value is read from: a TeaL message is far smaller. */
const MAX_VALUE_BYTES = 64 * 1024 * 1024;

/**
 * A flag's value: `@path` reads the file, `-` reads standard input, anything
 * else is the value itself. Tokens given as `@file` stay out of the process list.
 */
export async function readValue(
  flag: string,
  value: string,
  stdin: AsyncIterable<string | Uint8Array>,
): Promise<string> {
  if (value === '-') return readStdin(flag, stdin);
  if (!value.startsWith('@')) return value;
  const path = value.slice(1);
  try {
    const bytes = await readFile(path);
    if (bytes.length > MAX_VALUE_BYTES) {
      throw new CliError(`--${flag}: ${path} is over 64 MiB`, EXIT.usage);
    }
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    if (error instanceof CliError) throw error;
    const code = (error as { code?: string }).code;
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : error instanceof TypeError
            ? 'not valid UTF-8'
            : String(code ?? 'cannot be read');
    throw new CliError(`--${flag}: cannot read ${path}: ${reason}`, EXIT.usage);
  }
}

async function readStdin(flag: string, stdin: AsyncIterable<string | Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const bytes = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk;
    size += bytes.length;
    if (size > MAX_VALUE_BYTES)
      throw new CliError(`--${flag}: standard input is over 64 MiB`, EXIT.usage);
    chunks.push(bytes);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new CliError(`--${flag}: standard input is not valid UTF-8`, EXIT.usage);
  }
}

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
/** Digits, an optional fraction, an optional unit: no nesting, linear on the ≤ 24 characters it sees. */
const DURATION = /^(\d{1,12}(?:\.\d{1,6})?)(ms|s|m|h)?$/;

/** `30s`, `500ms`, `2m`, `1h`, or a number of seconds; an error naming the flag otherwise. */
export function parseDuration(flag: string, value: string, command: string): number {
  const match = value.length <= 24 ? DURATION.exec(value.trim()) : null;
  const ms = match === null ? Number.NaN : Number(match[1]) * UNITS[match[2] ?? 's']!;
  if (!Number.isFinite(ms) || ms <= 0 || ms > 2_147_483_647) {
    throw usageError(
      `--${flag} must be a duration such as 30s, 500ms, 2m or 1h, got ${JSON.stringify(value.slice(0, 24))}`,
      command,
    );
  }
  return Math.round(ms);
}

/** A whole number within bounds, with an error naming the flag. */
export function parseInteger(
  flag: string,
  value: string,
  [min, max]: readonly [number, number],
  command: string,
): number {
  const number = /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(number) || number < min || number > max) {
    throw usageError(
      `--${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value.slice(0, 24))}`,
      command,
    );
  }
  return number;
}

/** `1234` → `1,234`; `3.14159` → `3.1`. */
export function formatNumber(value: number, fractionDigits = 0): string {
  return value.toLocaleString('en-US', {
    minimumFractionDigits: fractionDigits,
    maximumFractionDigits: fractionDigits,
  });
}

/** Milliseconds, readably: `0.42 ms`, `12 ms`, `3.2 s`. */
export function formatMs(ms: number): string {
  if (ms < 10) return `${formatNumber(ms, 2)} ms`;
  if (ms < 1_000) return `${formatNumber(ms)} ms`;
  return `${formatNumber(ms / 1_000, 1)} s`;
}
