import { createMemoryStateStore } from './memory';
import type { StateStore } from './store';

export type { CallbackState, StateStore } from './store';
export { StateStoreError, TABLE_NAME } from './store';

/** The schemes of `STATE_STORE_URL`. */
export const STATE_STORE_SCHEMES = ['memory:', 'redis:', 'rediss:', 'postgres:', 'postgresql:'];

export const DEFAULT_REDIS_KEY_PREFIX = 'teal:callback-state:';
export const DEFAULT_POSTGRES_TABLE = 'teal_callback_states';

/**
 * Opens the store a `STATE_STORE_URL` names: `memory://`, `redis://…`
 * (`?key_prefix=`, default `teal:callback-state:`) or `postgres://…`
 * (`?table=`, default `teal_callback_states`). The drivers load only when used.
 * The URL was checked by `readConfig`.
 */
export async function openStateStore(url: string): Promise<StateStore> {
  const parsed = new URL(url);
  switch (parsed.protocol) {
    case 'redis:':
    case 'rediss:': {
      const keyPrefix = takeParameter(parsed, 'key_prefix') ?? DEFAULT_REDIS_KEY_PREFIX;
      const { createRedisStateStore } = await import('./redis');
      return createRedisStateStore({ url: parsed.toString(), keyPrefix });
    }
    case 'postgres:':
    case 'postgresql:': {
      const table = takeParameter(parsed, 'table') ?? DEFAULT_POSTGRES_TABLE;
      const { createPostgresStateStore } = await import('./postgres');
      return createPostgresStateStore({ url: parsed.toString(), table });
    }
    default:
      return createMemoryStateStore();
  }
}

/** Removes this store's own parameter, which the driver would not understand. */
function takeParameter(url: URL, name: string): string | null {
  const value = url.searchParams.get(name);
  url.searchParams.delete(name);
  return value;
}
