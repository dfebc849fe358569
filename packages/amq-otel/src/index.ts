/**
 * `@teal/amq-otel`: OpenTelemetry spans and metrics for TeaL AMQ handlers,
 * from core's `teal:amq:*` diagnostics channels.
 */
export { contextOf } from './contexts';
export { AMQAlreadyInstrumentedError } from './errors';
export {
  INSTRUMENTATION_SCOPE,
  type InstrumentOptions,
  instrument,
  type Uninstrument,
} from './instrument';
