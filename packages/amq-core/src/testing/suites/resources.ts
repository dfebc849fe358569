import { describe, expect, it } from 'vitest';
import type { AMQHandler } from '../../types';
import type { SuiteContext } from '../context';
import { randomKey, transportOf } from '../helpers';
import { bindKey } from './keys';
import { eventually, skipReason } from './support';

export function resourcesSuite(suite: SuiteContext): void {
  const brokerResources = suite.target.capabilities?.brokerResources;
  const lacks = skipReason(
    brokerResources === undefined,
    'the adapter declares no brokerResources',
  );

  /** Binds a key on every exchange, and checks the broker shows the handler holds something. */
  const bindEverywhere = async (handler: AMQHandler): Promise<string[]> => {
    const keys = [randomKey('res-a'), randomKey('res-b'), randomKey('res-c'), randomKey('res-d')];
    await handler.bindCallbackState(keys[0]!);
    await handler.bindCallbackState(keys[1]!);
    await bindKey(handler, 'openid_ciba_callbacks', keys[2]!);
    await bindKey(handler, 'powens_domain_webhooks', keys[3]!);
    expect((await brokerResources!(handler)).length).toBeGreaterThan(0);
    expect(transportOf(handler).resources?.().length ?? 1).toBeGreaterThan(0);
    return keys;
  };

  const nothingLeft = async (handler: AMQHandler, when: string) => {
    await eventually(
      () => brokerResources!(handler),
      (left) => left.length === 0,
      `nothing of the handler on the broker ${when}`,
    );
    expect(transportOf(handler).resources?.() ?? []).toEqual([]);
  };

  describe('broker resources', () => {
    it.skipIf(lacks)(
      `holds nothing on the broker once its last key is unbound${lacks}`,
      async () => {
        const handler = await suite.handler();
        const [a, b, c, d] = await bindEverywhere(handler);
        await handler.unbindCallbackState(a!);
        await handler.unbindCallbackState(b!);
        await handler.unbindOpenIDCIBARequestIdentifier(c!);
        await handler.unbindPowensDomainWebhooks(d!);
        await nothingLeft(handler, 'after the last unbind');
      },
      60_000,
    );

    it.skipIf(lacks)(
      `holds nothing on the broker after close()${lacks}`,
      async () => {
        const handler = await suite.handler();
        await bindEverywhere(handler);
        await handler.close();
        await nothingLeft(handler, 'after close()');
      },
      60_000,
    );
  });
}
