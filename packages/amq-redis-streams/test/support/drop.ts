import type { AMQHandler } from '@teal/amq-core';
import { transportOf } from '@teal/amq-core/testing';
import { Redis } from 'ioredis';
import type { RedisStreamsTransport } from '../../src/transport';
import { killConnectionsNamed, waitFor } from './redis';

/**
 * Drops a handler's connections from Redis's side (CLIENT KILL on every node
 * listed, found by the names the handler gives its connections), as a
 * network failure would.
 */
export async function dropConnections(
  handler: AMQHandler,
  nodeUrls: readonly string[],
): Promise<number> {
  const { command, reader } = transportOf<RedisStreamsTransport>(handler).connectionNames;
  // Kill live connections, not ones still coming back from an earlier kill (a cluster
  // client reconnects to a node only when it next sends it a command).
  await waitFor('the handler to be connected', () => handler.isConnected, 30_000);
  const deadline = Date.now() + 30_000;
  while (true) {
    let killed = 0;
    for (const url of nodeUrls) {
      const admin = new Redis(url, { maxRetriesPerRequest: 1 });
      try {
        killed += await killConnectionsNamed(admin, [command, reader]);
      } finally {
        admin.disconnect();
      }
    }
    if (killed > 0) return killed;
    if (Date.now() > deadline) throw new Error('found no connection of the handler to kill');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
