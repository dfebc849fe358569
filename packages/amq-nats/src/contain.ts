import type { LogFields, Logger } from '@teal/amq-core';

/**
 * Runs the work of a subscription callback. The NATS client calls those from
 * its socket reader: an exception escaping one stops the reader for good
 * while the connection still looks up, so every key of the handler would go
 * silent until the ping timeout. Whatever the message was, it is dropped with
 * a warning that names the error's class only (its text may quote the
 * message's headers).
 */
export function contain(logger: Logger, fields: LogFields, work: () => void): void {
  try {
    work();
  } catch (error) {
    logger.warn('dropped a message the adapter could not handle', {
      ...fields,
      reason: error instanceof Error ? error.name : typeof error,
    });
  }
}
