import { afterEach } from 'vitest';
import type { HandlerOptions } from '../handler';
import type { AMQHandler } from '../types';
import { randomPrefix } from './helpers';
import type { ContractTarget } from './target';

/** What each topic of the suite gets: the target and fresh, self-closing handlers. */
export interface SuiteContext {
  readonly target: ContractTarget;
  /** A new random prefix; `handler()` uses one per test unless told otherwise. */
  prefix(): string;
  /** A connected handler on this test's prefix (or the given one), closed after the test. */
  handler(options?: HandlerOptions): Promise<AMQHandler>;
}

export function createSuiteContext(target: ContractTarget): SuiteContext {
  let testPrefix = randomPrefix();
  let open: AMQHandler[] = [];

  afterEach(async () => {
    const handlers = open;
    open = [];
    testPrefix = randomPrefix();
    await Promise.allSettled(handlers.map((handler) => handler.close()));
  });

  return {
    target,
    prefix: randomPrefix,
    async handler(options = {}) {
      const handler = await target.createHandler({ exchangePrefix: testPrefix, ...options });
      open.push(handler);
      return handler;
    },
  };
}
