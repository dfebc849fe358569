/** Base class of the errors `@teal/amq-core` and its adapters throw. */
export class AMQError extends Error {
  override name = 'AMQError';
}

/** A setting or connection URL that cannot be used. */
export class AMQSettingsError extends AMQError {
  override name = 'AMQSettingsError';
  /** The setting or environment variable at fault (`AMQP_URL`). */
  readonly setting: string;

  constructor(setting: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.setting = setting;
  }
}

/** The adapter package for a URL scheme is not installed. */
export class AMQAdapterMissingError extends AMQError {
  override name = 'AMQAdapterMissingError';
  /** The package to install. */
  readonly packageName: string;

  constructor(packageName: string, scheme: string, options?: ErrorOptions) {
    super(
      `[@teal/amq-core] ${scheme} URLs need the ${packageName} package: install it with \`npm i ${packageName}\``,
      options,
    );
    this.packageName = packageName;
  }
}

/** The handler was closed; it cannot send or bind any more. */
export class AMQClosedError extends AMQError {
  override name = 'AMQClosedError';
}

/** A routing key the handler or broker cannot take (empty, too long). */
export class AMQRoutingKeyError extends AMQError {
  override name = 'AMQRoutingKeyError';
}

/** The broker did not accept a message: refused, unreachable, or too slow. */
export class AMQSendError extends AMQError {
  override name = 'AMQSendError';
}

/** The broker did not bind or unbind a key. */
export class AMQBindError extends AMQError {
  override name = 'AMQBindError';
}

/**
 * A handler whose callback could not keep up, on a transport that cannot hold
 * the broker back, dropped deliveries over its backlog bounds.
 */
export class AMQBacklogOverflowError extends AMQError {
  override name = 'AMQBacklogOverflowError';
  /** How many deliveries were dropped in this overflow so far. */
  readonly dropped: number;

  constructor(message: string, dropped: number, options?: ErrorOptions) {
    super(message, options);
    this.dropped = dropped;
  }
}
