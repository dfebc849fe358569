import type { AMQHandler } from '@teal/amq-core';
import { FaultProxy, Inbox, randomKey } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { connect, type NatsConnectOptions, type NatsMode } from '../../src/index';
import { durableHandlers, NATS_URL } from './broker';

/** Options of a test's handler: the adapter's, a prefix required. */
export type TestHandlerOptions = Partial<NatsConnectOptions> & { exchangePrefix: string };

/**
 * Makes handlers of either mode on `url` for a test file (the shared server
 * by default), and closes them after each test.
 */
export function handlersOn(url = NATS_URL) {
  const durable = durableHandlers(url);
  const open: AMQHandler[] = [];
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((handler) => handler.close()));
  });
  return async (mode: NatsMode, options: TestHandlerOptions): Promise<AMQHandler> => {
    const made = mode === 'core' ? await connect({ url, ...options }) : await durable(options);
    open.push(made);
    return made;
  };
}

/**
 * A `FaultProxy` in front of the shared server for a test file, forwarding
 * again after each test: `proxy()` once the file started.
 */
export function faultProxy(): () => FaultProxy {
  let proxy: FaultProxy | undefined;
  beforeAll(async () => {
    proxy = await FaultProxy.start(NATS_URL);
  });
  afterEach(() => proxy?.restore());
  afterAll(async () => {
    await proxy?.stop();
  });
  return () => proxy!;
}

/**
 * The fault cases' cast on a fresh prefix: a receiver on the shared server,
 * bound to key `k`, with its inbox, and a sender whose connection goes
 * through `proxy`.
 */
export async function receiverAndProxiedSender(
  handler: ReturnType<typeof handlersOn>,
  mode: NatsMode,
  proxy: FaultProxy,
  senderOptions: Partial<NatsConnectOptions> = {},
) {
  const prefix = `faults-${mode}-${randomKey('p')}.`;
  const receiver = await handler(mode, { exchangePrefix: prefix });
  const inbox = new Inbox(receiver);
  await receiver.bindCallbackState('k');
  const sender = await handler(mode, {
    exchangePrefix: prefix,
    url: proxy.urlFor(NATS_URL),
    ...senderOptions,
  });
  return { prefix, receiver, inbox, sender };
}

/** Sends a callback message with `url` on key `k`. */
export function sendTo(handler: AMQHandler, url: string): Promise<void> {
  return handler.send(callbackMessage({ url, state: 'k' }));
}

/** The URLs an inbox received, in order. */
export function urlsOf(inbox: Inbox): string[] {
  return inbox.messages.map((message) => (message.kind === 'callback' ? message.url : ''));
}
