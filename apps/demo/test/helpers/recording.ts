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
  const handler: AMQHandler = {
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
    send: (message, options) => real.send(message, options),
    waitFor: (kind, key, options) => real.waitFor(kind, key, options),
    subscribe: (kind, key, options) => real.subscribe(kind, key, options),
    bind: (kind, key) => real.bind(kind, key),
    unbind: (kind, key) => real.unbind(kind, key),
    on(event, listener) {
      real.on(event, listener);
      return handler;
    },
    off(event, listener) {
      real.off(event, listener);
      return handler;
    },
    bindCallbackState: record('bindCallbackState'),
    unbindCallbackState: record('unbindCallbackState'),
    bindOpenIDCIBARequestIdentifier: record('bindOpenIDCIBARequestIdentifier'),
    unbindOpenIDCIBARequestIdentifier: record('unbindOpenIDCIBARequestIdentifier'),
    bindPowensDomainWebhooks: record('bindPowensDomainWebhooks'),
    unbindPowensDomainWebhooks: record('unbindPowensDomainWebhooks'),
    close: (options) => real.close(options),
    [Symbol.asyncDispose]: () => real.close(),
  };
  return handler;
}
