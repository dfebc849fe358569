import { Redis } from 'ioredis';
import { type CallbackState, reasonOf, type StateStore, StateStoreError } from './store';

export interface RedisStateStoreOptions {
  /** `redis://` or `rediss://`, without this store's own parameters. */
  readonly url: string;
  /** Prepended to every state's key. */
  readonly keyPrefix: string;
  /** How long a command may take before it fails. */
  readonly commandTimeoutMs?: number;
}

/**
 * `redis://…`: one key per state, `SET … PX` so that Redis itself removes it
 * when it expires. Every instance pointing at the server sees every state.
 */
export function createRedisStateStore(options: RedisStateStoreOptions): StateStore {
  const redis = new Redis(options.url, {
    lazyConnect: true,
    // Fail fast while the server is away: the caller answers 503 or a creation failure.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    commandTimeout: options.commandTimeoutMs ?? 5_000,
  });
  // Connection errors surface through the commands that fail; the client reconnects by itself.
  redis.on('error', () => {});
  let isClosed = false;
  const keyOf = (state: string) => `${options.keyPrefix}${state}`;

  async function run<T>(what: string, command: () => Promise<T>): Promise<T> {
    if (isClosed) throw new StateStoreError('the Redis state store is closed');
    try {
      return await command();
    } catch (cause) {
      throw new StateStoreError(`the Redis state store could not ${what}: ${reasonOf(cause)}`, {
        cause,
      });
    }
  }

  return {
    async put(state, value) {
      const ttl = Math.max(1, value.expiresAt.getTime() - Date.now());
      await run('store a state', () => redis.set(keyOf(state), serialize(value), 'PX', ttl));
    },
    async get(state) {
      const text = await run('read a state', () => redis.get(keyOf(state)));
      const value = text === null ? null : deserialize(text);
      return value !== null && value.expiresAt.getTime() > Date.now() ? value : null;
    },
    async ping() {
      await run('answer a PING', () => redis.ping());
    },
    async close() {
      if (isClosed) return;
      isClosed = true;
      redis.disconnect();
    },
  };
}

function serialize(value: CallbackState): string {
  return JSON.stringify({
    final_redirect_url: value.finalRedirectUrl,
    with_fragment: value.withFragment,
    expires_at: value.expiresAt.getTime(),
  });
}

/** Reads what `serialize` wrote; `null` for anything else. */
function deserialize(text: string): CallbackState | null {
  let json: { final_redirect_url?: unknown; with_fragment?: unknown; expires_at?: unknown };
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const url = json?.final_redirect_url;
  if (
    (typeof url !== 'string' && url !== null) ||
    typeof json.with_fragment !== 'boolean' ||
    typeof json.expires_at !== 'number'
  ) {
    return null;
  }
  return {
    finalRedirectUrl: url ?? null,
    withFragment: json.with_fragment,
    expiresAt: new Date(json.expires_at),
  };
}
