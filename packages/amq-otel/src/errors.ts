import { AMQError } from '@teal/amq-core';

/**
 * `instrument()` was called while an earlier instrumentation is still active.
 * An `AMQError`, so `instanceof` holds across the ES module and CommonJS builds.
 */
export class AMQAlreadyInstrumentedError extends AMQError {
  static override readonly kind: string = 'AMQAlreadyInstrumentedError';
  override name = 'AMQAlreadyInstrumentedError';
}
