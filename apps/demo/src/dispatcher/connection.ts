import type { AMQHandler, KeySubscription } from '@teal/amq-core';
import type { Message } from '@teal/messages';
import type { FastifyBaseLogger } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import {
  acknowledgementFrame,
  type ClientAction,
  errorFrame,
  messageFrame,
  parseClientMessage,
  type Registration,
} from './protocol';

export interface ConnectionOptions {
  /** The handler the socket's keys are subscribed on; it shares one broker binding per key. */
  readonly handler: AMQHandler;
  readonly maxRegistrations: number;
  readonly log: FastifyBaseLogger;
  /** Pushes a message as a span of its trace, when telemetry is on. */
  readonly tracePush?: (
    message: Message,
    push: (sent: (error?: Error | null) => void) => void,
  ) => void;
}

// A client this far behind is too slow to keep: it would hold messages in memory.
const MAX_BUFFERED_BYTES = 8 * 1_048_576;

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
      this.#send(errorFrame('binary frames are not understood: send JSON text'));
      return;
    }
    const request = parseClientMessage(rawText(data));
    if ('error' in request) {
      this.#send(errorFrame(request.error));
      return;
    }
    if (request.action === 'register_to') {
      void this.#register(request.registration);
    } else {
      this.#unregister(request.registration);
    }
  }

  async #register(registration: Registration): Promise<void> {
    const id = idOf(registration);
    let subscription = this.#registrations.get(id);
    if (subscription === undefined) {
      if (this.#registrations.size >= this.#options.maxRegistrations) {
        this.#send(
          errorFrame(
            `register_to: this connection already waits on ${this.#options.maxRegistrations} keys, the limit: unregister_from one first`,
          ),
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
      this.#send(errorFrame(`register_to: the broker could not bind the key: ${describe(error)}`));
      return;
    }
    if (this.#registrations.get(id) === subscription) {
      this.#send(acknowledgementFrame('register_to', registration));
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
    this.#send(acknowledgementFrame('unregister_from' satisfies ClientAction, registration));
  }

  #onClose(): void {
    this.#isClosed = true;
    for (const subscription of this.#registrations.values()) void subscription.return();
    this.#registrations.clear();
  }

  #send(frame: string): void {
    if (!this.#isClosed) this.#socket.send(frame);
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
