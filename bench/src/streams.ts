import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { DEFAULT_SUBJECT_ROOT, encodeToken } from '@teal/amq-nats';
import type { PeerFactory } from './peer';

/** A JetStream-mode adapter that remembers its prefixes, and what deletes their streams. */
export interface RemovingStreams {
  readonly adapter: PeerFactory;
  /** Deletes the stream of every prefix the adapter was given so far. */
  cleanUp(): Promise<void>;
}

/**
 * Wraps a JetStream-mode adapter factory so that the streams of its prefixes
 * can be deleted once a target's measures are done. A handler's stream
 * outlives it by design, and reserves its `max_bytes` (256 MiB by default)
 * of the server's storage: the few hundred random prefixes of a
 * `pnpm bench:diagnostics` run left behind filled this machine's
 * reservation, and the server then refused every new stream. (Redis keys and
 * PostgreSQL rows of a prefix expire by themselves.) `seeds`: `host:port` of
 * the servers.
 */
export function removingStreams(seeds: readonly string[], factory: PeerFactory): RemovingStreams {
  const prefixes = new Set<string>();
  return {
    adapter: (prefix) => {
      prefixes.add(prefix);
      return factory(prefix);
    },
    async cleanUp() {
      if (prefixes.size === 0) return;
      const nc = await connect({ servers: [...seeds] });
      try {
        const jsm = await jetstreamManager(nc);
        for (const prefix of prefixes) {
          // The stream that captures the prefix's subjects, whatever its name.
          const subject = `${DEFAULT_SUBJECT_ROOT}.${encodeToken(prefix)}.any`;
          const name = await jsm.streams.find(subject).catch(() => null);
          if (name !== null) await jsm.streams.delete(name);
          prefixes.delete(prefix);
        }
      } finally {
        await nc.close();
      }
    },
  };
}
