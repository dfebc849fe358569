import { brokersRequired } from '@teal/amq-core/testing';
import { describe } from 'vitest';

/**
 * `describe` when the suite can run; otherwise a visible skip, or a failure
 * when `TEAL_REQUIRE_BROKERS=1` (CI), where nothing may be skipped.
 */
export function describeIfAvailable(
  name: string,
  unavailable: string | null,
  body: () => void,
): void {
  if (unavailable === null) {
    describe(name, body);
    return;
  }
  if (brokersRequired()) {
    describe(name, () => {
      throw new Error(
        `[@teal/demo] ${name}: ${unavailable}, and TEAL_REQUIRE_BROKERS=1 requires it`,
      );
    });
    return;
  }
  console.warn(`[@teal/demo] skipping "${name}": ${unavailable}`);
  describe.skip(`${name} (skipped: ${unavailable})`, body);
}
