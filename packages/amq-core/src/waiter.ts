import type { Message } from '@teal/messages';
import type { Holder } from './bindings';
import { AMQTimeoutError } from './errors';
import type { AMQExchangeName } from './exchanges';
import type { KeyHolds } from './holds';
import type { KeyListener, Listeners } from './listeners';
import { onAbort } from './timing';
import type { Transport } from './transport';
import type { WaitOptions } from './types';

/** What a `waitFor()` call needs from its handler. */
export interface WaiterHost {
  readonly listeners: Listeners;
  readonly holds: KeyHolds;
  /** Ends each pending wait with an error: `close()` calls them. */
  readonly waits: Set<(error: unknown) => void>;
}

/**
 * One `waitFor()`: holds the key, takes the first message of it, lets the key
 * go, and settles — or settles with the timeout, the abort or the close.
 */
export function waitForMessage(
  host: WaiterHost,
  transport: Transport,
  exchange: AMQExchangeName,
  key: string,
  options: WaitOptions,
): Promise<Message> {
  const { signal, timeoutMs, onBound } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<Message>((resolve, reject) => {
    const holder: Holder = {};
    let timer: ReturnType<typeof setTimeout> | undefined;
    let leaveSignal = () => {};
    const settle = (error: unknown, message?: Message) => {
      if (!host.waits.delete(fail)) return;
      clearTimeout(timer);
      leaveSignal();
      host.listeners.remove(exchange, key, listener);
      host.holds.letGo(exchange, key, holder);
      if (message === undefined) reject(error);
      else resolve(message);
    };
    const fail = (error: unknown) => settle(error);
    const listener: KeyListener = {
      accept: (message) => {
        settle(undefined, message);
        return undefined;
      },
    };
    host.waits.add(fail);
    if (signal !== undefined) leaveSignal = onAbort(signal, () => fail(signal.reason));
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        const kind = exchange;
        fail(
          new AMQTimeoutError(
            `[@teal/amq-core] waitFor() on ${kind}: no message within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
    }
    host.listeners.add(exchange, key, listener);
    host.holds.hold(transport, exchange, key, holder, 'waitFor').then(() => {
      try {
        onBound?.();
      } catch (error) {
        fail(error);
      }
    }, fail);
  });
}
