import { OTLPMetricExporter as OtlpJsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OtlpProtobufMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { metrics } from '@opentelemetry/sdk-node';
import { DemoConfigError } from '../config';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The push readers `OTEL_METRICS_EXPORTER` asks for (`otlp` by default,
 * `console`, `none`). `prometheus` needs none: `GET /metrics` serves the
 * metrics on the demo's own port. Built here rather than by the SDK, which
 * builds them from the environment only when given no reader at all.
 */
export function pushMetricReaders(env: Env): metrics.IMetricReader[] {
  const names = (env.OTEL_METRICS_EXPORTER ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const wanted = names.length === 0 ? ['otlp'] : names;
  if (wanted.includes('none')) return [];
  const intervalMs = readMilliseconds(env, 'OTEL_METRIC_EXPORT_INTERVAL', 60_000);
  const timeoutMs = Math.min(
    intervalMs,
    readMilliseconds(env, 'OTEL_METRIC_EXPORT_TIMEOUT', 30_000),
  );
  const periodic = (exporter: metrics.PushMetricExporter) =>
    new metrics.PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: intervalMs,
      exportTimeoutMillis: timeoutMs,
    });
  const readers: metrics.IMetricReader[] = [];
  for (const name of new Set(wanted)) {
    if (name === 'otlp') readers.push(periodic(otlpMetricExporter(env)));
    else if (name === 'console') readers.push(periodic(new metrics.ConsoleMetricExporter()));
    else if (name !== 'prometheus') {
      throw new DemoConfigError(
        'OTEL_METRICS_EXPORTER',
        `has the unknown exporter "${name}": use otlp, prometheus (GET /metrics), console or none`,
      );
    }
  }
  return readers;
}

/** OTLP over HTTP, in protobuf (the default) or JSON; the exporter reads its endpoint and headers itself. */
function otlpMetricExporter(env: Env): metrics.PushMetricExporter {
  const variable = env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL
    ? 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL'
    : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = env[variable]?.trim() || 'http/protobuf';
  if (protocol === 'http/protobuf') return new OtlpProtobufMetricExporter();
  if (protocol === 'http/json') return new OtlpJsonMetricExporter();
  throw new DemoConfigError(
    variable,
    `is "${protocol}": the demo exports metrics over OTLP/HTTP, http/protobuf or http/json`,
  );
}

function readMilliseconds(env: Env, name: string, fallback: number): number {
  const text = env[name]?.trim();
  if (!text) return fallback;
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new DemoConfigError(name, `must be a positive number of milliseconds, not "${text}"`);
  }
  return value;
}
