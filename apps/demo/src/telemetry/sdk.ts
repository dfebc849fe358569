import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { instrument } from '@teal/amq-otel';
import type { Role } from '../config';
import { httpInstrumentation, nameRoutes } from './http';
import type { Telemetry } from './index';
import { activeSpanFields } from './log-fields';
import { pushMetricReaders } from './metric-readers';
import { tracePush } from './push-span';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The standard OpenTelemetry Node SDK, configured by the `OTEL_*` variables
 * (traces over OTLP by default), plus a Prometheus reader that `GET /metrics`
 * serves, and `@teal/amq-otel` observing the handler.
 */
export function startSdk(env: Env, role: Role): Telemetry {
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const hasServiceName =
    !!env.OTEL_SERVICE_NAME || /service\.name=/.test(env.OTEL_RESOURCE_ATTRIBUTES ?? '');
  const sdk = new NodeSDK({
    ...(hasServiceName ? {} : { serviceName: `teal-demo-${role}` }),
    instrumentations: [httpInstrumentation()],
    metricReaders: [prometheus, ...pushMetricReaders(env)],
    // Logs go to standard output with trace ids; nothing of them is exported.
    logRecordProcessors: [],
  });
  sdk.start();
  // After the SDK: `instrument()` reads the global meter provider once.
  const uninstrument = instrument();
  const serializer = new PrometheusSerializer();
  return {
    instrumentServer: nameRoutes,
    prometheusText: async () => serializer.serialize((await prometheus.collect()).resourceMetrics),
    tracePush,
    logFields: activeSpanFields,
    shutdown: async () => {
      uninstrument();
      await sdk.shutdown();
    },
  };
}
