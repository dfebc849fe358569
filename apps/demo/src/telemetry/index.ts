import type { Message } from '@teal/messages';
import type { FastifyInstance } from 'fastify';
import type { Role } from '../config';

type Env = Readonly<Record<string, string | undefined>>;

/** Traces and metrics of a running demo; `null` wherever telemetry is off. */
export interface Telemetry {
  /** Names each request's span and HTTP metrics after its route; once per app. */
  instrumentServer(app: FastifyInstance): void;
  /** Every metric, `@teal/amq-otel`'s and HTTP's, in Prometheus text format. */
  prometheusText(): Promise<string>;
  /**
   * Pushes a delivered message to a WebSocket as a span in the message's
   * trace; `push` calls `sent` once the frame is written.
   */
  tracePush(message: Message, push: (sent: (error?: Error | null) => void) => void): void;
  /** `trace_id` and `span_id` of the active span, for each log record. */
  logFields(): Record<string, string>;
  /** Stops observing, flushes what is left to export. */
  shutdown(): Promise<void>;
}

/**
 * Whether the demo exports telemetry: some `OTEL_*` variable is set and
 * `OTEL_SDK_DISABLED` is not `true`. Without, nothing of OpenTelemetry loads.
 */
export function isTelemetryWanted(env: Env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  return Object.entries(env).some(([name, value]) => name.startsWith('OTEL_') && !!value);
}

/**
 * Starts the OpenTelemetry Node SDK as the `OTEL_*` variables say, or
 * returns `null` without loading it. Must run before Fastify is imported,
 * for the HTTP instrumentation to see the server. Throws `DemoConfigError`
 * for a variable the demo cannot honour.
 */
export async function startTelemetry(env: Env, role: Role): Promise<Telemetry | null> {
  if (!isTelemetryWanted(env)) return null;
  const { startSdk } = await import('./sdk');
  return startSdk(env, role);
}
