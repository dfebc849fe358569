/**
 * `@teal/amq-core`: what an application uses. Adapter authors import
 * `@teal/amq-core/adapter`; the contract suite is `@teal/amq-core/testing`.
 */
export {
  type AdapterModule,
  AMQAdapterMissingError,
  AMQBacklogOverflowError,
  AMQBindError,
  AMQClosedError,
  AMQError,
  AMQExchangeName,
  type AMQHandler,
  AMQRoutingKeyError,
  AMQSendError,
  type AMQSettings,
  AMQSettingsError,
  AMQTimeoutError,
  type CloseOptions,
  type ConnectOptions,
  type ErrorContext,
  type ErrorHook,
  EXCHANGE_NAMES,
  exchangeOf,
  exchangeOfKind,
  type HandlerEvent,
  type HandlerEventListener,
  type HandlerEventMap,
  type HandlerOptions,
  isExchangeName,
  type KeySubscription,
  kindOfExchange,
  type LogFields,
  type Logger,
  type MessageCallback,
  maskMessage,
  maskUrl,
  parseBrokerUrl,
  redactUrl,
  type SendOptions,
  type SubscribeOptions,
  silentLogger,
  stderrLogger,
  type WaitOptions,
} from '@teal/amq-core/adapter';
export type { AdapterLoader } from './connect';
export { adapterPackageOf, connect, registerAdapter, withHandler } from './connect';
export { connectMemory } from './memory/transport';
export { settingsFromEnv } from './settings';
