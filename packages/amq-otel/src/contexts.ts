import type { Context } from '@opentelemetry/api';
import type { Message } from '@teal/messages';

// One map per process, shared by the ES module and CommonJS copies of this
// package, so that `contextOf()` finds what either copy's subscriber stored.
const CONTEXTS = Symbol.for('@teal/amq-otel.message-contexts');

function messageContexts(): WeakMap<object, Context> {
  const holder = globalThis as { [CONTEXTS]?: WeakMap<object, Context> };
  holder[CONTEXTS] ??= new WeakMap();
  return holder[CONTEXTS];
}

/** Remembers the context of a delivered message's `process` span, for as long as the message lives. */
export function rememberContext(message: Message, context: Context): void {
  messageContexts().set(message, context);
}

/**
 * The OpenTelemetry context of a delivered message: its `process` span, a
 * child of the sender's `send` span. A diagnostics subscriber cannot make it
 * the active context of the callback, so continue the trace from it:
 * `context.with(contextOf(message) ?? context.active(), () => …)`.
 * `undefined` for a message no instrumentation saw delivered.
 */
export function contextOf(message: Message): Context | undefined {
  return messageContexts().get(message);
}
