import { Writable } from 'node:stream';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logging';
import { activeSpanFields } from '../src/telemetry/log-fields';

// `context.with()` needs a context manager, which only exists globally.
beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
afterAll(() => {
  context.disable();
});

function recordingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger('info', stream, activeSpanFields), lines };
}

describe('log records', () => {
  it('carry trace_id and span_id while a span is active, and nothing of them outside', async () => {
    const { log, lines } = recordingLogger();
    const span = trace.wrapSpanContext({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: 1,
    });
    await context.with(trace.setSpan(context.active(), span), async () => {
      await Promise.resolve();
      log.info({ user: { password: 'hunter2' } }, 'inside');
    });
    log.info('outside');
    expect(lines[0]).toMatchObject({
      msg: 'inside',
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      span_id: '00f067aa0ba902b7',
      trace_flags: '01',
      // Redaction still applies beside the trace fields.
      user: { password: '***' },
    });
    expect(lines[1]).not.toHaveProperty('trace_id');
    expect(lines[1]).not.toHaveProperty('span_id');
  });
});
