import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** The Redis the tests use: `REDIS_URL`, as CI sets it, or a local install. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Why Redis at `url` cannot be used, or null when it answers PING. */
export async function redisUnavailable(url: string = REDIS_URL): Promise<string | null> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2_000,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return null;
  } catch (error) {
    return `Redis at ${url.replace(/\/\/[^@/]*@/, '//***@')} does not answer (${error instanceof Error ? error.message : String(error)})`;
  } finally {
    client.disconnect();
  }
}

/** A fresh exchange prefix, so tests never share streams. */
export function randomPrefix(): string {
  return `test-${randomBytes(6).toString('hex')}.`;
}

/** Polls until `condition` holds, or fails with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every key matching a SCAN pattern. */
export async function scanKeys(client: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** Kills, server-side, every connection of `client`'s server whose name is in `names`; how many it killed. */
export async function killConnectionsNamed(
  client: Redis,
  names: readonly string[],
): Promise<number> {
  const list = (await client.client('LIST')) as string;
  let killed = 0;
  for (const line of list.split('\n')) {
    const fields = Object.fromEntries(
      line.split(' ').map((pair) => pair.split('=', 2) as [string, string]),
    );
    if (fields.id !== undefined && names.includes(fields.name ?? '')) {
      killed += Number(await client.client('KILL', 'ID', fields.id));
    }
  }
  return killed;
}
