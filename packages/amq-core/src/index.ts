export { backoffDelay } from './backoff';
export type { AdapterModule, ConnectOptions } from './connect';
export { adapterPackageOf, connect, withHandler } from './connect';
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
export { createHandler } from './handler';
export type { LogFields, Logger } from './logger';
export { maskMessage, maskUrl, silentLogger, stderrLogger } from './logger';
export { connectMemory } from './memory/connect';
export type { HandlerOptions } from './options';
export type { AMQSettings } from './settings';
export { parseBrokerUrl, redactUrl, settingsFromEnv } from './settings';
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
