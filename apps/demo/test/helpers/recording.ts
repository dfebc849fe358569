import type { AMQHandler } from '@teal/amq-core';

type KeyMethod =
  | 'bindCallbackState'
  | 'unbindCallbackState'
  | 'bindOpenIDCIBARequestIdentifier'
  | 'unbindOpenIDCIBARequestIdentifier'
  | 'bindPowensDomainWebhooks'
  | 'unbindPowensDomainWebhooks';

/**
 * A handler that records its bind and unbind calls (as `method(key)`) and
 * passes everything to the real one; keys in `refused` fail to bind. This is
 * how tests see what the dispatcher asks of the broker.
 */
export function recordingHandler(
  real: AMQHandler,
  calls: string[],
  refused: ReadonlySet<string> = new Set(),
): AMQHandler {
  const record =
    (method: KeyMethod) =>
    (key: string): Promise<void> => {
      calls.push(`${method}(${key})`);
      if (refused.has(key)) return Promise.reject(new Error(`the broker refused ${key}`));
      return real[method](key);
    };
  return {
    get callback() {
      return real.callback;
    },
    set callback(callback) {
      real.callback = callback;
    },
    get onError() {
      return real.onError;
    },
    set onError(hook) {
      real.onError = hook;
    },
    get isClosed() {
      return real.isClosed;
    },
    get isConnected() {
      return real.isConnected;
    },
    send: (message) => real.send(message),
    bindCallbackState: record('bindCallbackState'),
    unbindCallbackState: record('unbindCallbackState'),
    bindOpenIDCIBARequestIdentifier: record('bindOpenIDCIBARequestIdentifier'),
    unbindOpenIDCIBARequestIdentifier: record('unbindOpenIDCIBARequestIdentifier'),
    bindPowensDomainWebhooks: record('bindPowensDomainWebhooks'),
    unbindPowensDomainWebhooks: record('unbindPowensDomainWebhooks'),
    close: () => real.close(),
    [Symbol.asyncDispose]: () => real.close(),
  };
}
