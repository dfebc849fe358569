import type { Cursor } from './bindings';
import type { RedisClient } from './connection';

/** How often a key that held another type than a stream is looked at again. */
export const RECHECK_MS = 250;

/** Deletes KEYS[1] if it holds something else than a stream: a handler's own key, clobbered. */
export const DELETE_UNLESS_STREAM_SCRIPT = `if redis.call('TYPE', KEYS[1]).ok ~= 'stream' then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/** Whether Redis refused a command for a key of the wrong type. */
export function isWrongType(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('WRONGTYPE');
}

/**
 * After a WRONGTYPE, which of `streams` hold something else than a stream (a
 * stream that does not exist is fine): each with the type it holds.
 */
export async function findWrongTypes(
  client: RedisClient,
  streams: readonly string[],
): Promise<Map<string, string>> {
  const types = await Promise.all(streams.map((stream) => client.type(stream)));
  const wrong = new Map<string, string>();
  for (const [index, stream] of streams.entries()) {
    const type = types[index]!;
    if (type !== 'stream' && type !== 'none') wrong.set(stream, type);
  }
  return wrong;
}

/** Looks again at the streams set aside: one that is a stream again (or none) is read again. */
export async function recheckSetAside(
  client: RedisClient,
  cursors: Iterable<Cursor>,
): Promise<void> {
  const now = Date.now();
  for (const cursor of cursors) {
    if (cursor.recheckAt === 0 || cursor.recheckAt > now) continue;
    const type = await client.type(cursor.stream);
    cursor.recheckAt = type === 'stream' || type === 'none' ? 0 : now + RECHECK_MS;
  }
}
