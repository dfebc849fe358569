import { describe, it } from 'vitest';
import { createSuiteContext } from './context';
import { brokersRequired } from './probe';
import { backlogSuite } from './suites/backlog';
import { deliverySuite } from './suites/delivery';
import { faultsSuite } from './suites/faults';
import { hostileSuite } from './suites/hostile';
import { isolationSuite } from './suites/isolation';
import { lifecycleSuite } from './suites/lifecycle';
import { orderingSuite } from './suites/ordering';
import { resourcesSuite } from './suites/resources';
import { robustnessSuite } from './suites/robustness';
import type { ContractTarget } from './target';

/**
 * Registers the whole handler contract (SPEC 4.3) with vitest for one adapter.
 * Each test gets fresh handlers on a random exchange prefix. An unavailable
 * broker skips the suite with a visible line, or fails it when
 * `TEAL_REQUIRE_BROKERS=1`; capabilities the adapter lacks skip their tests
 * with the reason in the test name.
 */
export function describeHandlerContract(target: ContractTarget): void {
  const title = `${target.name} handler contract`;
  if (target.unavailable) {
    const reason = target.unavailable;
    if (brokersRequired()) {
      describe(title, () => {
        it('has a broker to run against', () => {
          throw new Error(`${target.name}: ${reason}, and TEAL_REQUIRE_BROKERS=1 requires it`);
        });
      });
      return;
    }
    console.warn(`[teal] SKIPPED ${title}: ${reason}`);
    describe.skip(`${title} [skipped: ${reason}]`, () => {
      it('runs against a broker that answers', () => {});
    });
    return;
  }
  describe(title, () => {
    const suite = createSuiteContext(target);
    deliverySuite(suite);
    isolationSuite(suite);
    orderingSuite(suite);
    robustnessSuite(suite);
    lifecycleSuite(suite);
    faultsSuite(suite);
    hostileSuite(suite);
    backlogSuite(suite);
    resourcesSuite(suite);
  });
}
