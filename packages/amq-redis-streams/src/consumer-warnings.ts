import type { Logger } from '@teal/amq-core/adapter';
import { PACKAGE } from './settings';

/** Warnings allowed in a burst, and one more per this many ms. */
const BURST = 10;
const REFILL_MS = 1_000;

/**
 * Warnings about what the reader drops, at most BURST at once and one per
 * second after that: a flood of bad entries must not become a flood of log
 * lines. What was held back is counted in the next warning.
 */
export class WarningThrottle {
  readonly #logger: Logger;
  #tokens = BURST;
  #refilledAt = Date.now();
  #suppressed = 0;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Logs a warning: `fields` must hold no content of what was dropped. */
  warn(message: string, fields: Record<string, unknown>): void {
    const now = Date.now();
    const refill = Math.floor((now - this.#refilledAt) / REFILL_MS);
    if (refill > 0) {
      this.#tokens = Math.min(BURST, this.#tokens + refill);
      this.#refilledAt += refill * REFILL_MS;
    }
    if (this.#tokens === 0) {
      this.#suppressed++;
      return;
    }
    this.#tokens--;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    this.#logger.warn(message, {
      adapter: PACKAGE,
      ...fields,
      ...(suppressed > 0 ? { warningsHeldBack: suppressed } : {}),
    });
  }
}
