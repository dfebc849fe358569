import { type ApiError, JetStreamApiError } from '@nats-io/jetstream';
import { headers, type Msg, type MsgHdrs } from '@nats-io/transport-node';
import type { NatsLink } from './connection';

const utf8 = new TextDecoder();

interface Pending {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  /** When it fails unanswered (`performance.now()` time). */
  readonly dueAt: number;
}

/**
 * JetStream publishes and the stream's acknowledgements, as the client's
 * plain publishes with a reply subject, and one subscription for every
 * reply. The client's `request()`, which the JetStream client's `publish()`
 * makes, builds a token, a timer, a deferred and an error per call, on top
 * of an async hop and a copy of its options: a fifth of what a JetStream
 * send costs the CPU. Replies are told apart by a serial number at the end
 * of the reply subject; one timer fails those unanswered after `timeoutMs`
 * (all share it, so they are due in the order they were sent).
 */
export class StreamAcks {
  readonly #link: NatsLink;
  readonly #timeoutMs: number;
  readonly #prefix: string;
  readonly #pending = new Map<string, Pending>();
  #serial = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(link: NatsLink, timeoutMs: number) {
    this.#link = link;
    this.#timeoutMs = timeoutMs;
    this.#prefix = `${link.inbox()}.`;
    // The client subscribes it again after a reconnection.
    link.nc.subscribe(`${this.#prefix}*`, {
      callback: (error, msg) => {
        if (error === null) this.#onReply(msg);
      },
    });
  }

  /**
   * Publishes `data` to `subject` with the message id `msgId` (the stream
   * stores a message id once) and the part's headers; resolves once the
   * stream stored it, rejects with its refusal (a `JetStreamApiError`), with
   * "no responders" when no stream takes the subject, or after `timeoutMs`.
   */
  publish(subject: string, data: Uint8Array, msgId: string, partHeaders?: MsgHdrs): Promise<void> {
    const sent = partHeaders ?? headers();
    sent.set('Nats-Msg-Id', msgId);
    const token = String(++this.#serial);
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(token, { resolve, reject, dueAt: performance.now() + this.#timeoutMs });
      if (this.#timer === undefined) {
        this.#timer = setInterval(() => this.#sweep(), Math.min(100, this.#timeoutMs / 4));
        this.#timer.unref();
      }
      try {
        this.#link.nc.publish(subject, data, { reply: this.#prefix + token, headers: sent });
      } catch (error) {
        this.#pending.delete(token);
        reject(error);
      }
    });
  }

  #onReply(msg: Msg): void {
    const token = msg.subject.slice(this.#prefix.length);
    const pending = this.#pending.get(token);
    if (pending === undefined) return;
    this.#pending.delete(token);
    const refusal = refusalOf(msg);
    if (refusal === undefined) pending.resolve();
    else pending.reject(refusal);
  }

  #sweep(): void {
    const now = performance.now();
    for (const [token, pending] of this.#pending) {
      if (pending.dueAt > now) break;
      this.#pending.delete(token);
      pending.reject(
        new Error(`the stream did not acknowledge a publish within ${this.#timeoutMs} ms`),
      );
    }
    if (this.#pending.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}

/** What a reply to a JetStream publish says went wrong, or `undefined` for an acknowledgement. */
function refusalOf(msg: Msg): Error | undefined {
  if (msg.data.length === 0) {
    const code = msg.headers?.code;
    // What the JetStream client says too: `#repairStream` recreates the stream on it.
    if (code === 503) return new Error('no responders: JetStream is not enabled for the subject');
    return new Error(`JetStream answered a publish with status ${code ?? 'none'}`);
  }
  let answer: { error?: ApiError; stream?: string };
  try {
    answer = JSON.parse(utf8.decode(msg.data)) as typeof answer;
  } catch {
    return new Error('JetStream answered a publish with something other than JSON');
  }
  if (answer.error !== undefined) return new JetStreamApiError(answer.error);
  if (typeof answer.stream !== 'string' || answer.stream === '') {
    return new Error('JetStream answered a publish without naming its stream');
  }
  return undefined;
}
