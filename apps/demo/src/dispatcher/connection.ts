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
import type { KeyRegistry, Subscriber } from './registry';

export interface ConnectionOptions {
  readonly registry: KeyRegistry;
  readonly maxRegistrations: number;
  readonly log: FastifyBaseLogger;
}

// A client this far behind is too slow to keep: it would hold messages in memory.
const MAX_BUFFERED_BYTES = 8 * 1_048_576;

/** One dispatcher WebSocket: its registrations, its messages in and out. */
export class DispatcherConnection implements Subscriber {
  readonly #socket: WebSocket;
  readonly #options: ConnectionOptions;
  readonly #registrations = new Map<string, Registration>();
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
    socket.on('error', (error) => options.log.debug({ err: error }, 'websocket error'));
  }

  deliver(message: Message): void {
    if (this.#isClosed) return;
    if (this.#socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.#options.log.warn('closing a websocket that does not keep up with its messages');
      this.#socket.close(1013, 'too slow');
      return;
    }
    this.#socket.send(messageFrame(message));
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
    const id = `${registration.kind}\u0000${registration.key}`;
    if (!this.#registrations.has(id)) {
      if (this.#registrations.size >= this.#options.maxRegistrations) {
        this.#send(
          errorFrame(
            `register_to: this connection already waits on ${this.#options.maxRegistrations} keys, the limit: unregister_from one first`,
          ),
        );
        return;
      }
      this.#registrations.set(id, registration);
    }
    try {
      await this.#options.registry.acquire(this, registration);
    } catch (error) {
      this.#registrations.delete(id);
      this.#options.registry.release(this, registration);
      this.#options.log.warn({ err: error, kind: registration.kind }, 'binding a key failed');
      this.#send(errorFrame(`register_to: the broker could not bind the key: ${describe(error)}`));
      return;
    }
    if (this.#registrations.has(id)) this.#send(acknowledgementFrame('register_to', registration));
  }

  #unregister(registration: Registration): void {
    const id = `${registration.kind}\u0000${registration.key}`;
    if (this.#registrations.delete(id)) this.#options.registry.release(this, registration);
    this.#send(acknowledgementFrame('unregister_from' satisfies ClientAction, registration));
  }

  #onClose(): void {
    this.#isClosed = true;
    for (const registration of this.#registrations.values()) {
      this.#options.registry.release(this, registration);
    }
    this.#registrations.clear();
  }

  #send(frame: string): void {
    if (!this.#isClosed) this.#socket.send(frame);
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
