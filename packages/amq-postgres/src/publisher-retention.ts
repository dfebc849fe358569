import type { Link } from './connection';
import { reportOnce } from './connection-errors';
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
  reportError: (error: unknown) => void,
): () => void {
  const sweepFailures = reportOnce(reportError);
  const renewalFailures = reportOnce(reportError);
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
      .then(sweepFailures.succeeded, (error: unknown) => sweepFailures.failed('a sweep', error));
  }, sweepEveryMs);
  const renewals = setInterval(() => {
    if (!link.isUp) return;
    renewLease().then(renewalFailures.succeeded, (error: unknown) =>
      renewalFailures.failed('renewing the lease of the bindings', error),
    );
  }, settings.leaseMs / 3);
  sweeps.unref?.();
  renewals.unref?.();
  return () => {
    clearInterval(sweeps);
    clearInterval(renewals);
  };
}
