import { probeBroker, randomKey, randomPrefix, waitFor } from '@teal/amq-core/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BROKER_URLS } from './helpers/brokers';
import { OtlpReceiver, type ReceivedSpan, SPAN_KIND } from './helpers/otlp-receiver';
import { type DemoProcess, startDemoProcess } from './helpers/process';
import { sampleOf } from './helpers/prometheus';
import { deleteRabbitExchanges } from './helpers/rabbit';
import { describeWithTraceHeaders, traceHeadersMissing } from './helpers/trace-headers';
import { basic, TestSocket } from './helpers/websocket';

const BROKERS = [
  { name: 'memory', url: 'memory://' },
  { name: 'RabbitMQ', url: BROKER_URLS.amqp },
  { name: 'Redis Streams', url: BROKER_URLS.redis },
  { name: 'NATS', url: BROKER_URLS.nats },
  { name: 'PostgreSQL', url: BROKER_URLS.postgres },
];

const PASSWORD = 'telemetry-dispatcher-password';

for (const broker of BROKERS) {
  // memory:// lives inside one process: there, listener and dispatcher share it.
  const isShared = broker.url.startsWith('memory:');
  const prefix = randomPrefix();
  const unavailable = isShared ? null : await probeBroker(broker.url);
  const headersMissing =
    unavailable === null ? await traceHeadersMissing(broker.url, prefix) : null;
  if (broker.url.startsWith('amqp') && unavailable === null) {
    await deleteRabbitExchanges(broker.url, prefix);
  }
  const setting = isShared ? 'one process (memory:// is in-process)' : 'two processes';

  describeWithTraceHeaders(
    `one trace from the HTTP callback to the WebSocket over ${broker.name}, ${setting}`,
    { unavailable, headersMissing },
    () => {
      let receiver: OtlpReceiver;
      let listener: DemoProcess;
      let dispatcher: DemoProcess;
      let client: TestSocket;

      beforeAll(async () => {
        receiver = await OtlpReceiver.start();
        const env = (service: string, logLevel: string) => ({
          AMQP_URL: broker.url,
          AMQP_EXCHANGE_PREFIX: prefix,
          HOST: '127.0.0.1',
          PORT: '0',
          DISPATCHER_PASSWORD: PASSWORD,
          LOG_LEVEL: logLevel,
          OTEL_SERVICE_NAME: service,
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
          OTEL_BSP_SCHEDULE_DELAY: '100',
          OTEL_METRIC_EXPORT_INTERVAL: '500',
        });
        // The listener logs its requests, to show their trace ids.
        if (isShared) {
          listener = await startDemoProcess('both', env('teal-demo', 'info'));
          dispatcher = listener;
        } else {
          const started = await Promise.allSettled([
            startDemoProcess('listener', env('teal-demo-listener', 'info')),
            startDemoProcess('dispatcher', env('teal-demo-dispatcher', 'warn')),
          ]);
          for (const result of started) {
            if (result.status === 'rejected') {
              await Promise.all(
                started.map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)),
              );
              throw result.reason;
            }
          }
          [listener, dispatcher] = started.map(
            (result) => (result as PromiseFulfilledResult<DemoProcess>).value,
          ) as [DemoProcess, DemoProcess];
        }
        client = await TestSocket.open(dispatcher.url, { headers: basic('anonymous', PASSWORD) });
      }, 120_000);

      afterAll(async () => {
        await client?.close();
        await Promise.all([listener?.stop(), dispatcher?.stop()]);
        await receiver?.close();
        if (broker.url.startsWith('amqp')) await deleteRabbitExchanges(broker.url, prefix);
      }, 30_000);

      const state = randomKey('state');
      const code = randomKey('code');

      it('puts the HTTP request, the send, the delivery and the WebSocket push in one trace', async () => {
        const registered = await client.request({ register_to: { type: 'callback', state } });
        expect(registered.type).toBe('registered');
        const response = await fetch(`${listener.url}/callback?state=${state}&code=${code}`);
        expect(response.status).toBe(200);
        await client.next((f) => f.type === 'callback' && f.state === state, 'the callback');

        const find = (kind: number, name: string) =>
          receiver.spans.find((span) => span.kind === kind && span.name === name);
        const spans = () => [
          find(SPAN_KIND.SERVER, 'GET /callback'),
          find(SPAN_KIND.PRODUCER, 'send callbacks'),
          find(SPAN_KIND.CONSUMER, 'process callbacks'),
          find(SPAN_KIND.INTERNAL, 'websocket push'),
        ];
        // Each process exports its own spans, in its own time.
        await waitFor(() => spans().every((span) => span !== undefined), 'the four spans');
        const [request, send, deliver, push] = spans() as ReceivedSpan[] as [
          ReceivedSpan,
          ReceivedSpan,
          ReceivedSpan,
          ReceivedSpan,
        ];
        for (const span of [send, deliver, push]) expect(span.traceId).toBe(request.traceId);
        expect(send.parentSpanId).toBe(request.spanId);
        expect(deliver.parentSpanId).toBe(send.spanId);
        expect(deliver.links).toContainEqual({ traceId: send.traceId, spanId: send.spanId });
        expect(push.parentSpanId).toBe(deliver.spanId);
        if (!isShared) {
          expect(servicesOf([request, send])).toEqual(['teal-demo-listener']);
          expect(servicesOf([deliver, push])).toEqual(['teal-demo-dispatcher']);
        }
        expect(request.attributes['http.route']).toBe('/callback');
        expect(send.attributes['messaging.destination.name']).toBe('callbacks');

        // No state, code or password in anything exported.
        for (const secret of [state, code, PASSWORD]) {
          expect(receiver.everything()).not.toContain(secret);
        }
        // The listener's request log names the trace.
        await waitFor(
          () => listener.output().includes(`"trace_id":"${request.traceId}"`),
          "the request's log line with its trace id",
        );
      });

      it('counts the callback sent and delivered, once each, on /metrics and over OTLP', async () => {
        const callbacks = { messaging_destination_name: 'callbacks' };
        const listenerMetrics = await (await fetch(`${listener.url}/metrics`)).text();
        const dispatcherMetrics = await (await fetch(`${dispatcher.url}/metrics`)).text();
        expect(sampleOf(listenerMetrics, 'messaging_client_sent_messages_total', callbacks)).toBe(
          1,
        );
        expect(
          sampleOf(dispatcherMetrics, 'messaging_client_consumed_messages_total', callbacks),
        ).toBe(1);
        expect(
          sampleOf(listenerMetrics, 'http_server_request_duration_count', {
            http_route: '/callback',
          }),
        ).toBe(1);
        for (const secret of [state, code]) {
          expect(listenerMetrics + dispatcherMetrics).not.toContain(secret);
        }
        await waitFor(
          () => receiver.metricNames.has('messaging.client.sent.messages'),
          'the metrics pushed over OTLP',
        );
      });

      it('records a route template, never a Powens domain or a token, for a webhook', async () => {
        const domain = randomKey('bank');
        const token = randomKey('user-token');
        const response = await fetch(
          `${listener.url}/powens-webhook/${domain}.biapi.pro/USER_CREATED?ref=${token}`,
          {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: '{"user": {"id": 1}}',
          },
        );
        expect(response.status).toBe(204);
        const route = '/powens-webhook/:domain/:event';
        const find = () =>
          receiver.spans.find(
            (span) => span.kind === SPAN_KIND.SERVER && span.name === `POST ${route}`,
          );
        await waitFor(() => find() !== undefined, 'the webhook request span');
        expect(find()?.attributes['url.path']).toBe(route);
        expect(find()?.attributes['url.query']).toBe('ref=***');
        await waitFor(
          () => receiver.spans.some((span) => span.name === 'send powens_domain_webhooks'),
          'the webhook send span',
        );
        for (const secret of [domain, token]) expect(receiver.everything()).not.toContain(secret);
      });
    },
  );
}

function servicesOf(spans: readonly ReceivedSpan[]): string[] {
  return [...new Set(spans.map((span) => span.service))];
}
