import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { contextOf } from '@teal/amq-otel';
import type { Message } from '@teal/messages';

const tracer = trace.getTracer('@teal/demo');

/**
 * The push of a delivered message to one WebSocket, as a span whose parent
 * is the message's `process` span: the dispatcher's iteration of a
 * subscription runs outside it, so the context comes from the message.
 */
export function tracePush(
  message: Message,
  push: (sent: (error?: Error | null) => void) => void,
): void {
  const parent = contextOf(message) ?? context.active();
  const span = tracer.startSpan(
    'websocket push',
    {
      kind: SpanKind.INTERNAL,
      attributes: { 'network.protocol.name': 'websocket', 'teal.message.kind': message.kind },
    },
    parent,
  );
  // The socket's write callback: `null` or nothing once written, the error otherwise.
  const sent = (error?: Error | null) => {
    if (error != null) {
      span.setAttribute('error.type', error.name);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    }
    span.end();
  };
  try {
    context.with(trace.setSpan(parent, span), () => push(sent));
  } catch (error) {
    sent(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
}
