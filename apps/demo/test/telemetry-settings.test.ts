import * as diagnostics from 'node:diagnostics_channel';
import { DIAGNOSTICS_CHANNELS } from '@teal/amq-core';
import { describe, expect, it } from 'vitest';
import { DemoConfigError } from '../src/config';
import { isTelemetryWanted, startTelemetry } from '../src/telemetry/index';
import { pushMetricReaders } from '../src/telemetry/metric-readers';
import { startTestDemo } from './helpers/server';

describe('telemetry switch', () => {
  it('is on with any OTEL_* variable set, off without, and off when the SDK is disabled', () => {
    expect(isTelemetryWanted({})).toBe(false);
    expect(isTelemetryWanted({ PATH: '/bin', OTEL_SERVICE_NAME: '' })).toBe(false);
    expect(isTelemetryWanted({ OTEL_SERVICE_NAME: 'teal' })).toBe(true);
    expect(isTelemetryWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(isTelemetryWanted({ OTEL_SERVICE_NAME: 'teal', OTEL_SDK_DISABLED: 'TRUE' })).toBe(false);
  });

  it('starts nothing and subscribes to nothing when off; GET /metrics says how to turn it on', async () => {
    expect(await startTelemetry({}, 'both')).toBeNull();
    const demo = await startTestDemo();
    try {
      await demo.peer.bind('callback', 'off-state');
      await demo.app.inject({ url: '/callback?state=off-state&code=c' });
      await demo.inbox.receive(1);
      const { send, deliver } = DIAGNOSTICS_CHANNELS;
      for (const name of [send, deliver]) {
        expect(diagnostics.tracingChannel(name).hasSubscribers).toBe(false);
      }
      const response = await demo.app.inject({ url: '/metrics' });
      expect(response.statusCode).toBe(404);
      expect(response.body).toContain('OTEL_');
      expect(demo.logs.join('')).not.toContain('trace_id');
    } finally {
      await demo.close();
    }
  });
});

describe('metric exporters', () => {
  it('pushes over OTLP by default, and not at all with none or prometheus alone', () => {
    expect(pushMetricReaders({})).toHaveLength(1);
    expect(pushMetricReaders({ OTEL_METRICS_EXPORTER: 'none' })).toHaveLength(0);
    expect(pushMetricReaders({ OTEL_METRICS_EXPORTER: 'prometheus' })).toHaveLength(0);
    expect(pushMetricReaders({ OTEL_METRICS_EXPORTER: 'otlp, prometheus' })).toHaveLength(1);
    expect(
      pushMetricReaders({
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      }),
    ).toHaveLength(1);
  });

  it('names the variable it cannot honour', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ OTEL_METRICS_EXPORTER: 'statsd' }, 'OTEL_METRICS_EXPORTER'],
      [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_PROTOCOL'],
      [{ OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL'],
      [{ OTEL_METRIC_EXPORT_INTERVAL: 'soon' }, 'OTEL_METRIC_EXPORT_INTERVAL'],
    ];
    for (const [env, variable] of cases) {
      let error: unknown;
      try {
        pushMetricReaders(env);
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(DemoConfigError);
      expect((error as DemoConfigError).variable).toBe(variable);
    }
  });
});
