import * as diagnostics from 'node:diagnostics_channel';
import type { Message, MessageKind } from '@teal/messages';
import type { AMQExchangeName } from './exchanges';

/**
 * The `node:diagnostics_channel` names core publishes on. `send`, `deliver`,
 * `bind` and `unbind` are tracing channels (`tracing:teal:amq:send:start`,
 * `…:end`, `…:asyncStart`, `…:asyncEnd`, `…:error`); `drop` and `connection`
 * are plain channels. Nothing is built or published while no one subscribes.
 */
export const DIAGNOSTICS_CHANNELS = Object.freeze({
  send: 'teal:amq:send',
  deliver: 'teal:amq:deliver',
  bind: 'teal:amq:bind',
  unbind: 'teal:amq:unbind',
  drop: 'teal:amq:drop',
  connection: 'teal:amq:connection',
} as const);

/** What every event names: the handler (a process-unique id) and its adapter. */
export interface HandlerEventBase {
  /** `h1`, `h2`…: which handler of the process. */
  readonly handlerId: string;
  /** The adapter's package name, `@teal/amq-amqp`. */
  readonly adapter: string;
}

/** A `send()`, from the call to the broker's acceptance. */
export interface SendEvent extends HandlerEventBase {
  readonly exchange: AMQExchangeName;
  readonly kind: MessageKind;
  /** The routing key: an OAuth2 state or CIBA request id is close to a secret; record it only on purpose. */
  readonly routingKey: string;
  readonly bodyBytes: number;
  /**
   * Broker metadata the adapter sends beside the body (message headers, a
   * stream field, a column), never in it: a subscriber adds `traceparent` and
   * `tracestate` here at `start`.
   */
  readonly headers: Record<string, string>;
}

/** One delivered message handed to the callback and the key's listeners, until they are done with it. */
export interface DeliverEvent extends HandlerEventBase {
  readonly exchange: AMQExchangeName;
  readonly kind: MessageKind;
  readonly routingKey: string;
  readonly bodyBytes: number;
  /** The broker metadata it came with: the sender's `traceparent`, if any. */
  readonly headers: Readonly<Record<string, string>>;
  /** The decoded message; `message.timestamp` is when the listener made it. */
  readonly message: Message;
  /** Messages still waiting behind this one. */
  readonly backlog: number;
}

/** A bind or an unbind of one key on the broker. */
export interface BindingEvent extends HandlerEventBase {
  readonly exchange: AMQExchangeName;
  readonly routingKey: string;
  /** Keys the handler holds once this operation is asked for. */
  readonly bindings: number;
}

/** Why a received message reached no callback or listener. */
export type DropReason = 'undecodable' | 'unbound' | 'overflow';

export interface DropEvent extends HandlerEventBase {
  readonly exchange: AMQExchangeName;
  readonly reason: DropReason;
}

export interface ConnectionEvent extends HandlerEventBase {
  /** `closed`: the handler closed, and holds no binding or backlog any more. */
  readonly state: 'connected' | 'disconnected' | 'closed';
  readonly error?: unknown;
}

/**
 * A tracing channel whose `hasSubscribers` tells on every runtime: Bun's
 * `TracingChannel` has no such getter (nor Node's before 20.13), and reading
 * it there would say no one listens, ever. It is then read from the five
 * channels behind it.
 */
function tracingChannel<Event extends object>(
  name: string,
): diagnostics.TracingChannel<unknown, Event> {
  const channel = diagnostics.tracingChannel<unknown, Event>(name);
  if (typeof channel.hasSubscribers === 'boolean') return channel;
  const parts = [channel.start, channel.end, channel.asyncStart, channel.asyncEnd, channel.error];
  Object.defineProperty(channel, 'hasSubscribers', {
    get: () => parts.some((part) => part.hasSubscribers),
  });
  return channel;
}

export const sendChannel = tracingChannel<SendEvent>(DIAGNOSTICS_CHANNELS.send);
export const deliverChannel = tracingChannel<DeliverEvent>(DIAGNOSTICS_CHANNELS.deliver);
export const bindChannel = tracingChannel<BindingEvent>(DIAGNOSTICS_CHANNELS.bind);
export const unbindChannel = tracingChannel<BindingEvent>(DIAGNOSTICS_CHANNELS.unbind);
export const dropChannel = diagnostics.channel(DIAGNOSTICS_CHANNELS.drop);
export const connectionChannel = diagnostics.channel(DIAGNOSTICS_CHANNELS.connection);

let lastHandlerId = 0;

/** A new process-unique handler id for events. */
export function nextHandlerId(): string {
  lastHandlerId++;
  return `h${lastHandlerId}`;
}
