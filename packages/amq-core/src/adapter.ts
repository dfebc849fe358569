/**
 * `@teal/amq-core/adapter`: what an adapter is written with. An adapter
 * implements a `Transport` and turns it into a handler with `createHandler()`;
 * see CONTRIBUTING.md, "Anatomy of an adapter".
 */
export type {
  BindingEvent,
  ConnectionEvent,
  DeliverEvent,
  DropEvent,
  DropReason,
  HandlerEventBase,
  SendEvent,
} from './diagnostics';
export { DIAGNOSTICS_CHANNELS } from './diagnostics';
export {
  AMQAdapterMissingError,
  AMQBacklogOverflowError,
  AMQBindError,
  AMQClosedError,
  AMQError,
  AMQRoutingKeyError,
  AMQSendError,
  AMQSettingsError,
  AMQTimeoutError,
  AMQUnconfirmedSendError,
  messageOf,
} from './errors';
export type { HandlerEvent, HandlerEventListener, HandlerEventMap } from './events';
export {
  AMQExchangeName,
  EXCHANGE_NAMES,
  exchangeOf,
  exchangeOfKind,
  isExchangeName,
  kindOfExchange,
} from './exchanges';
export { Fifo } from './fifo';
export { adapterConnect, createHandler } from './handler';
export type { LogFields, Logger } from './logger';
export { maskMessage, maskUrl, silentLogger, stderrLogger } from './logger';
export type { AdapterModule, AMQSettings, ConnectOptions, HandlerOptions } from './options';
export { backoffDelay, markWritten, onAbort, raceSignal } from './timing';
export type {
  Backlog,
  Delivery,
  Transport,
  TransportContext,
  TransportFactory,
} from './transport';
export type {
  AMQHandler,
  CloseOptions,
  ErrorContext,
  ErrorHook,
  KeySubscription,
  MessageCallback,
  SendOptions,
  SubscribeOptions,
  WaitOptions,
} from './types';
export type { IntegerSetting, SeedHost } from './urls';
export {
  adapterUrlOf,
  flagParameter,
  integerSettings,
  parseBrokerUrl,
  parseSeedUrl,
  parseSeedUrls,
  redactUrl,
  seedUrlsOf,
} from './urls';
