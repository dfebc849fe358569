import * as diagnostics from 'node:diagnostics_channel';
import { type AMQHandler, connect, DIAGNOSTICS_CHANNELS, silentLogger } from '@teal/amq-core';
import { randomKey, waitFor } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { describe } from 'vitest';
import { describeIfAvailable } from './require';

const PROBE_TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

interface Headed {
  readonly routingKey: string;
  readonly headers: Record<string, string>;
}

/**
 * Whether the adapter of `url` carries trace context beside the body:
 * `null` when a `traceparent` added at send comes back with the delivery,
 * otherwise the reason to show.
 */
export async function traceHeadersMissing(
  url: string,
  exchangePrefix: string,
): Promise<string | null> {
  let handler: AMQHandler;
  try {
    handler = await connect({ url, exchangePrefix, logger: silentLogger });
  } catch (error) {
    return `no handler for this broker (${(error as Error).message})`;
  }
  const key = randomKey('trace-probe');
  let received: string | undefined | null = null;
  const inject = (message: unknown) => {
    const event = message as Headed;
    if (event.routingKey === key) event.headers.traceparent = PROBE_TRACEPARENT;
  };
  const deliver = (message: unknown) => {
    const event = message as Headed;
    if (event.routingKey === key) received = event.headers.traceparent;
  };
  const send = `tracing:${DIAGNOSTICS_CHANNELS.send}:start`;
  const deliverStart = `tracing:${DIAGNOSTICS_CHANNELS.deliver}:start`;
  diagnostics.subscribe(send, inject);
  diagnostics.subscribe(deliverStart, deliver);
  try {
    handler.callback = () => {};
    await handler.bind('callback', key);
    await handler.send(callbackMessage({ url: 'https://probe.test/callback', state: key }));
    await waitFor(() => received !== null, 'the probe message', 10_000);
  } catch (error) {
    return `a probe message did not come back (${(error as Error).message})`;
  } finally {
    diagnostics.unsubscribe(send, inject);
    diagnostics.unsubscribe(deliverStart, deliver);
    await handler.close();
  }
  return received === PROBE_TRACEPARENT
    ? null
    : `its adapter does not carry trace headers yet: a traceparent sent beside the body did not come back with the delivery`;
}

/**
 * `describe` when the broker answers and its adapter carries trace context.
 * A missing broker skips visibly (fails under `TEAL_REQUIRE_BROKERS=1`); an
 * adapter without trace headers skips visibly in every case, as a
 * capability the adapter lacks, naming what it lacks.
 */
export function describeWithTraceHeaders(
  name: string,
  reasons: { readonly unavailable: string | null; readonly headersMissing: string | null },
  body: () => void,
): void {
  if (reasons.unavailable !== null || reasons.headersMissing === null) {
    describeIfAvailable(name, reasons.unavailable, body);
    return;
  }
  console.warn(`[@teal/demo] skipping "${name}": ${reasons.headersMissing}`);
  describe.skip(`${name} (skipped: ${reasons.headersMissing})`, body);
}
