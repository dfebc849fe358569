import { connect as connectTcp } from 'node:net';
import { describe } from 'vitest';

const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  'amqp:': 5672,
  'amqps:': 5671,
  'redis:': 6379,
  'rediss:': 6380,
  'nats:': 4222,
  'tls:': 4222,
};

/**
 * Whether the broker of a URL answers on its TCP port: `null` when it does,
 * otherwise a reason to show (the URL without its password).
 */
export async function probeBroker(url: string, timeoutMs = 2_000): Promise<string | null> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'the broker URL is not valid';
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(parsed.port) || DEFAULT_PORTS[parsed.protocol];
  if (port === undefined) return null;
  return new Promise((resolve) => {
    const socket = connectTcp({ host, port });
    const done = (reason: string | null) => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(timeoutMs, () => done(`no broker answers at ${host}:${port}`));
    socket.once('connect', () => done(null));
    socket.once('error', () => done(`no broker answers at ${host}:${port}`));
  });
}

/** Whether a missing broker fails the run instead of skipping (CI sets it). */
export function brokersRequired(): boolean {
  return process.env.TEAL_REQUIRE_BROKERS === '1';
}

/**
 * `describe` when the broker answers (`unavailable` is `null`); otherwise a
 * visible skip with the reason, or a failure when the variable `requiredBy`
 * is `1` (`TEAL_REQUIRE_BROKERS`, set in CI; the failover tests name
 * `TEAL_REQUIRE_CLUSTERS`).
 */
export function describeWithBroker(
  title: string,
  unavailable: string | null,
  body: () => void,
  requiredBy = 'TEAL_REQUIRE_BROKERS',
): void {
  if (unavailable === null) {
    describe(title, body);
    return;
  }
  if (process.env[requiredBy] === '1') {
    throw new Error(`${title}: ${unavailable}, and ${requiredBy}=1 requires it`);
  }
  console.warn(`[teal] SKIPPED ${title}: ${unavailable}`);
  describe.skip(`${title} [skipped: ${unavailable}]`, body);
}
