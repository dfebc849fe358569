import { afterAll, afterEach } from 'vitest';
import type { HandlerOptions } from '../handler';
import type { AMQHandler } from '../types';
import { randomPrefix } from './helpers';
import type { ContractTarget } from './target';

/** What each topic of the suite gets: the target and fresh, self-closing handlers. */
export interface SuiteContext {
  readonly target: ContractTarget;
  /** A new random prefix; `handler()` uses one per test unless told otherwise. */
  prefix(): string;
  /** The prefix `handler()` gives this test's handlers. */
  testPrefix(): string;
  /** A connected handler on this test's prefix (or the given one), closed after the test. */
  handler(options?: HandlerOptions): Promise<AMQHandler>;
}

export function createSuiteContext(target: ContractTarget): SuiteContext {
  const used = new Set<string>();
  const nextPrefix = () => {
    const prefix = randomPrefix();
    used.add(prefix);
    return prefix;
  };
  let testPrefix = nextPrefix();
  let open: AMQHandler[] = [];

  afterEach(async () => {
    const handlers = open;
    open = [];
    testPrefix = nextPrefix();
    await Promise.allSettled(handlers.map((handler) => handler.close()));
  });

  afterAll(async () => {
    await target.cleanup?.([...used]);
  });

  return {
    target,
    prefix: nextPrefix,
    testPrefix: () => testPrefix,
    async handler(options = {}) {
      const handler = await target.createHandler({ exchangePrefix: testPrefix, ...options });
      open.push(handler);
      return handler;
    },
  };
}
