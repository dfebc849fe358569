import type { ErrorContext } from './types';

/** The events a handler emits, with what each listener receives. */
export interface HandlerEventMap {
  /** The handler is connected to its broker: after a reconnection (it was connected when `connect()` resolved). */
  connected: [];
  /** The handler lost its broker; it reconnects by itself. */
  disconnected: [error: unknown];
  /** The handler is connected again and its bindings are restored. */
  reconnected: [];
  /** An error nothing awaits, as `onError` gets it (a failing callback, a lost connection…). */
  error: [error: unknown, context: ErrorContext];
}

export type HandlerEvent = keyof HandlerEventMap;
export type HandlerEventListener<E extends HandlerEvent> = (...args: HandlerEventMap[E]) => void;

/**
 * The listeners of a handler's events. Unlike Node's `EventEmitter`, an
 * `error` with no listener is not thrown (it went to `onError` already), and a
 * listener that throws is logged, never in the way of the others.
 */
export class HandlerEvents {
  readonly #listeners = new Map<HandlerEvent, Set<(...args: never[]) => void>>();
  readonly #onListenerError: (error: unknown) => void;

  constructor(onListenerError: (error: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  on<E extends HandlerEvent>(event: E, listener: HandlerEventListener<E>): void {
    let listeners = this.#listeners.get(event);
    if (listeners === undefined) {
      listeners = new Set();
      this.#listeners.set(event, listeners);
    }
    listeners.add(listener as (...args: never[]) => void);
  }

  off<E extends HandlerEvent>(event: E, listener: HandlerEventListener<E>): void {
    this.#listeners.get(event)?.delete(listener as (...args: never[]) => void);
  }

  emit<E extends HandlerEvent>(event: E, ...args: HandlerEventMap[E]): void {
    const listeners = this.#listeners.get(event);
    if (listeners === undefined) return;
    for (const listener of [...listeners]) {
      try {
        (listener as (...args: HandlerEventMap[E]) => void)(...args);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }
}
