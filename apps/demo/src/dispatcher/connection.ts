import type { AMQHandler, KeySubscription } from '@teal/amq-core';
import type { Message } from '@teal/messages';
import type { FastifyBaseLogger } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import type { StateStore } from '../states/index';
import {
  acknowledgementFrame,
  type CallbackCreation,
  type ClientAction,
  creationFailureFrame,
  creationFailureOf,
  errorFrame,
  messageFrame,
  parseClientFrame,
  type Registration,
} from './protocol';

export interface ConnectionOptions {
  /** The handler the socket's keys are subscribed on; it shares one broker binding per key. */
  readonly handler: AMQHandler;
  /** Where `create` stores callback states for the listener. */
  readonly states: StateStore;
  readonly maxRegistrations: number;
  /**
   * Whether the client is told what became of each frame (`registered`,
   * `unregistered`, `error`): this service's addition, for its page on `/ws`.
   * The Python dispatcher's clients (`/websocket`) know no such frames.
   */
  readonly reportsOutcomes: boolean;
  readonly log: FastifyBaseLogger;
  /** Pushes a message as a span of its trace, when telemetry is on. */
  readonly tracePush?: (
    message: Message,
    push: (sent: (error?: Error | null) => void) => void,
  ) => void;
}

// A client this far behind is too slow to keep: it would hold messages in memory.
const MAX_BUFFERED_BYTES = 8 * 1_048_576;
// Frames are handled one after the other, as the Python dispatcher does; a client
// that sends faster than the state store answers has the excess refused.
const MAX_WAITING_FRAMES = 32;

/**
 * One dispatcher WebSocket: a subscription of the handler per registered
 * key, whose messages it pushes, and the frames the client sends.
 */
export class DispatcherConnection {
  readonly #socket: WebSocket;
  readonly #options: ConnectionOptions;
  readonly #registrations = new Map<string, KeySubscription<Message>>();
  #isClosed = false;
  #isAlive = true;
  #handled: Promise<void> = Promise.resolve();
  #waitingFrames = 0;

  constructor(socket: WebSocket, options: ConnectionOptions) {
    this.#socket = socket;
    this.#options = options;
    socket.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    socket.on('close', () => this.#onClose());
    socket.on('pong', () => {
      this.#isAlive = true;
    });
  }

  #push(message: Message): void {
    if (this.#isClosed) return;
    if (this.#socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      // Closed from now on: the next messages would only repeat this line.
      this.#isClosed = true;
      this.#options.log.warn('closing a websocket that does not keep up with its messages');
      this.#socket.close(1013, 'too slow');
      return;
    }
    const frame = messageFrame(message);
    const { tracePush } = this.#options;
    if (tracePush === undefined) this.#socket.send(frame);
    else tracePush(message, (sent) => this.#socket.send(frame, sent));
  }

  /** Pings the client; one that did not answer the previous ping is gone and is dropped. */
  heartbeat(): void {
    if (!this.#isAlive) {
      this.#socket.terminate();
      return;
    }
    this.#isAlive = false;
    this.#socket.ping();
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.#refuse('binary frames are not understood: send JSON text');
      return;
    }
    if (this.#waitingFrames >= MAX_WAITING_FRAMES) {
      this.#refuse(`${MAX_WAITING_FRAMES} frames are already waiting: wait for their answers`);
      return;
    }
    this.#waitingFrames++;
    const text = rawText(data);
    this.#handled = this.#handled
      .then(() => this.#handle(text))
      .catch((error: unknown) => this.#options.log.error({ err: error }, 'a frame failed'))
      .finally(() => {
        this.#waitingFrames--;
      });
  }

  /** One frame: `create` first (a refusal skips the rest), then `register_to`, then `unregister_from`. */
  async #handle(text: string): Promise<void> {
    if (this.#isClosed) return;
    const frame = parseClientFrame(text);
    if ('error' in frame) {
      this.#refuse(frame.error);
      return;
    }
    if (frame.create !== null && !(await this.#create(frame.create))) return;
    // Closed while the state was stored: a subscription made now would never end.
    if (this.#isClosed) return;
    // Not awaited: the binding's outcome is reported when known, and later frames go on.
    if (frame.registerTo !== null) void this.#register(frame.registerTo);
    if (frame.unregisterFrom !== null) this.#unregister(frame.unregisterFrom);
  }

  /** Stores a callback state; returns whether it did, having told the client otherwise. */
  async #create(creation: CallbackCreation): Promise<boolean> {
    const failure = creationFailureOf(creation, new Date());
    if (failure !== null) {
      this.#send(creationFailureFrame(creation.state, failure));
      return false;
    }
    try {
      await this.#options.states.put(creation.state, {
        finalRedirectUrl: creation.finalRedirectUrl,
        withFragment: creation.withFragment,
        expiresAt: creation.expiresAt,
      });
      return true;
    } catch (error) {
      this.#options.log.warn({ err: error }, 'storing a callback state failed');
      this.#send(
        creationFailureFrame(
          creation.state,
          'The callback state could not be stored: retry later.',
        ),
      );
      return false;
    }
  }

  /** A frame that is not understood: ignored, as the Python dispatcher does, or reported on `/ws`. */
  #refuse(reason: string): void {
    if (this.#options.reportsOutcomes) this.#send(errorFrame(reason));
    else this.#options.log.debug({ reason }, 'ignoring a websocket frame');
  }

  async #register(registration: Registration): Promise<void> {
    const id = idOf(registration);
    let subscription = this.#registrations.get(id);
    if (subscription === undefined) {
      if (this.#registrations.size >= this.#options.maxRegistrations) {
        this.#refuse(
          `register_to: this connection already waits on ${this.#options.maxRegistrations} keys, the limit: unregister_from one first`,
        );
        return;
      }
      subscription = this.#options.handler.subscribe(registration.kind, registration.key);
      this.#registrations.set(id, subscription);
      void this.#forward(subscription);
    }
    try {
      await subscription.bound;
    } catch (error) {
      if (this.#registrations.get(id) === subscription) this.#registrations.delete(id);
      this.#options.log.warn({ err: error, kind: registration.kind }, 'binding a key failed');
      this.#refuse(`register_to: the broker could not bind the key: ${describe(error)}`);
      return;
    }
    if (this.#registrations.get(id) === subscription) {
      this.#report(acknowledgementFrame('register_to', registration));
    }
  }

  /** Pushes a subscription's messages until it ends (unregistered, socket closed, handler closed). */
  async #forward(subscription: KeySubscription<Message>): Promise<void> {
    try {
      for await (const message of subscription) this.#push(message);
    } catch {
      // A failed bind is answered by #register; a closed handler ends every subscription.
    }
  }

  #unregister(registration: Registration): void {
    const id = idOf(registration);
    const subscription = this.#registrations.get(id);
    this.#registrations.delete(id);
    void subscription?.return();
    this.#report(acknowledgementFrame('unregister_from' satisfies ClientAction, registration));
  }

  #onClose(): void {
    this.#isClosed = true;
    for (const subscription of this.#registrations.values()) void subscription.return();
    this.#registrations.clear();
  }

  #send(frame: string): void {
    if (!this.#isClosed) this.#socket.send(frame);
  }

  /** Sends one of this service's own outcome frames, to the clients that know them. */
  #report(frame: string): void {
    if (this.#options.reportsOutcomes) this.#send(frame);
  }
}

function idOf(registration: Registration): string {
  return `${registration.kind}\u0000${registration.key}`;
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
