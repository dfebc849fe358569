/**
 * Every error class an instance was made by, base classes included, by name.
 * A registered symbol: an application may load core twice (its CommonJS build
 * and, through an adapter, its ES module build), and `instanceof` must hold
 * across both copies.
 */
const KINDS = Symbol.for('@teal/amq-core.errorKinds');

/** The name each error class is known by across copies of the package. */
function kindOf(errorClass: object): string {
  const own = Object.getOwnPropertyDescriptor(errorClass, 'kind')?.value;
  return typeof own === 'string' ? own : (errorClass as { name: string }).name;
}

/** Base class of the errors `@teal/amq-core` and its adapters throw. */
export class AMQError extends Error {
  /** The class's name across copies of the package; subclasses set their own. */
  static readonly kind: string = 'AMQError';
  override name = 'AMQError';

  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    const kinds: string[] = [];
    for (let at: object = new.target; at !== Error; at = Object.getPrototypeOf(at) as object) {
      kinds.push(kindOf(at));
    }
    Object.defineProperty(this, KINDS, { value: Object.freeze(kinds) });
  }
}

/**
 * `error instanceof AMQSendError` holds for an error made by another copy of
 * core (CommonJS beside ES modules), as long as the class names match.
 * Subclasses inherit it; `this` is the class on the right of `instanceof`.
 */
Object.defineProperty(AMQError, Symbol.hasInstance, {
  value: function isInstance(this: { prototype: object }, value: unknown): boolean {
    if (Object.prototype.isPrototypeOf.call(this.prototype, value as object)) return true;
    const kinds = (value as { [KINDS]?: unknown } | null | undefined)?.[KINDS];
    return Array.isArray(kinds) && kinds.includes(kindOf(this));
  },
});

/** A setting or connection URL that cannot be used. */
export class AMQSettingsError extends AMQError {
  static override readonly kind: string = 'AMQSettingsError';
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
  static override readonly kind: string = 'AMQAdapterMissingError';
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
  static override readonly kind: string = 'AMQClosedError';
  override name = 'AMQClosedError';
}

/** A routing key the handler or broker cannot take (empty, too long). */
export class AMQRoutingKeyError extends AMQError {
  static override readonly kind: string = 'AMQRoutingKeyError';
  override name = 'AMQRoutingKeyError';
}

/** The broker did not accept a message: refused, unreachable, or too slow. */
export class AMQSendError extends AMQError {
  static override readonly kind: string = 'AMQSendError';
  override name = 'AMQSendError';
}

/**
 * The message was written, but the connection died before the broker
 * confirmed it: whether the broker has it is unknown, so it may still be
 * delivered (once). Every other rejected send is never delivered.
 */
export class AMQUnconfirmedSendError extends AMQSendError {
  static override readonly kind: string = 'AMQUnconfirmedSendError';
  override name = 'AMQUnconfirmedSendError';
}

/** The broker did not bind or unbind a key. */
export class AMQBindError extends AMQError {
  static override readonly kind: string = 'AMQBindError';
  override name = 'AMQBindError';
}

/** Nothing arrived in time: `waitFor()` ran out its `timeoutMs`. */
export class AMQTimeoutError extends AMQError {
  static override readonly kind: string = 'AMQTimeoutError';
  override name = 'AMQTimeoutError';
}

/**
 * A handler whose callback could not keep up, on a transport that cannot hold
 * the broker back, dropped deliveries over its backlog bounds.
 */
export class AMQBacklogOverflowError extends AMQError {
  static override readonly kind: string = 'AMQBacklogOverflowError';
  override name = 'AMQBacklogOverflowError';
  /** How many deliveries were dropped in this overflow so far. */
  readonly dropped: number;

  constructor(message: string, dropped: number, options?: ErrorOptions) {
    super(message, options);
    this.dropped = dropped;
  }
}

/** What an error says, whatever was thrown: for messages that quote a cause. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
