import type { MessageKind } from './types';

/** A body that is not a valid message of the kind its exchange carries. */
export class MessageDecodeError extends Error {
  override readonly name = 'MessageDecodeError';
  /** The kind the body was decoded as. */
  readonly kind: MessageKind;
  /** The wire path of the offending field (`push_token.expires_at`), or `null` for the whole body. */
  readonly field: string | null;
  /** Why the field was refused, without its value. */
  readonly reason: string;

  constructor(kind: MessageKind, field: string | null, reason: string, options?: ErrorOptions) {
    super(
      `[@teal/messages] cannot decode a ${kind} message: ${field ?? 'body'} ${reason}`,
      options,
    );
    this.kind = kind;
    this.field = field;
    this.reason = reason;
  }
}

/** A message built or sent with a field of the wrong type. */
export class MessageValidationError extends TypeError {
  override readonly name = 'MessageValidationError';
  readonly kind: MessageKind;
  /** The TypeScript path of the offending field (`pushToken.expiresAt`). */
  readonly field: string | null;
  readonly reason: string;

  constructor(kind: MessageKind, field: string | null, reason: string) {
    super(`[@teal/messages] invalid ${kind} message: ${field ?? 'message'} ${reason}`);
    this.kind = kind;
    this.field = field;
    this.reason = reason;
  }
}

/** A Powens signature header that cannot be used (not base64, no date, bad date). */
export class PowensSignatureError extends Error {
  override readonly name = 'PowensSignatureError';
  /** The request header at fault. */
  readonly header: string;

  constructor(header: string, reason: string) {
    super(`[@teal/messages] ${header} header ${reason}`);
    this.header = header;
  }
}
