import type { AMQExchangeName } from '../../exchanges';
import type { AMQHandler } from '../../types';

/** Binds a key on any exchange through the handler's public methods. */
export function bindKey(
  handler: AMQHandler,
  exchange: AMQExchangeName,
  key: string,
): Promise<void> {
  switch (exchange) {
    case 'callbacks':
      return handler.bindCallbackState(key);
    case 'openid_ciba_callbacks':
      return handler.bindOpenIDCIBARequestIdentifier(key);
    case 'powens_domain_webhooks':
      return handler.bindPowensDomainWebhooks(key);
  }
}
