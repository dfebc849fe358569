import type { Link } from './connection';
import type { Names } from './names';
import type { PostgresSettings } from './settings';

/**
 * Retention without an operator: every handler, now and then, asks the
 * server's sweep (one process at a time does it) to delete expired messages
 * and crashed handlers' bindings, and its prefix's messages beyond
 * `maxMessages`; and renews its own lease. Returns what stops both.
 */
export function startSweeps(
  link: Link,
  names: Names,
  settings: PostgresSettings,
  renewLease: () => Promise<void>,
): () => void {
  const sweepEveryMs = Math.min(10_000, Math.max(1_000, settings.retentionMs / 10));
  const sweeps = setInterval(() => {
    if (!link.isUp) return;
    link
      .run((client) =>
        client.query(`SELECT ${names.of('sweep')}($1, $2)`, [
          settings.exchangePrefix,
          settings.maxMessages,
        ]),
      )
      // A sweep missed is done by the next one, here or in another handler.
      .catch(() => {});
  }, sweepEveryMs);
  const renewals = setInterval(() => {
    if (link.isUp) renewLease().catch(() => {});
  }, settings.leaseMs / 3);
  sweeps.unref?.();
  renewals.unref?.();
  return () => {
    clearInterval(sweeps);
    clearInterval(renewals);
  };
}
