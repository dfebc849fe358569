/** A frame from the dispatcher: JSON with a `type`. */
export interface ServerFrame {
  readonly type: string;
  readonly [field: string]: unknown;
}

const POLICY_VIOLATION = 1008;

export type ConnectionStatus = 'connecting' | 'open' | 'closed' | 'refused';

/** What the client may wait on, as the dispatcher's protocol writes it. */
export type Target =
  | { type: 'callback'; state: string }
  | { type: 'openid_ciba_callback'; request_id: string }
  | { type: 'powens_domain'; powens_domain: string };

export interface ClientEvents {
  onFrame(frame: ServerFrame): void;
  onStatus(status: ConnectionStatus): void;
}

/**
 * The page's WebSocket to the dispatcher. Browsers cannot set headers on a
 * WebSocket, so the credentials go in `?credentials=`. Registrations are
 * replayed after a reconnect.
 */
export class DispatcherClient {
  readonly #events: ClientEvents;
  readonly #targets = new Map<string, Target>();
  #password = '';
  #socket: WebSocket | null = null;
  #wasOpen = false;
  #retries = 0;

  constructor(events: ClientEvents) {
    this.#events = events;
  }

  connect(password: string): void {
    this.#password = password;
    this.#wasOpen = false;
    this.#open();
  }

  register(target: Target): void {
    this.#targets.set(JSON.stringify(target), target);
    this.#send({ register_to: target });
  }

  unregister(target: Target): void {
    this.#targets.delete(JSON.stringify(target));
    this.#send({ unregister_from: target });
  }

  #open(): void {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const credentials = encodeURIComponent(base64(`anonymous:${this.#password}`));
    const socket = new WebSocket(`${scheme}//${location.host}/ws?credentials=${credentials}`);
    this.#socket = socket;
    this.#events.onStatus('connecting');
    socket.addEventListener('open', () => {
      this.#wasOpen = true;
      this.#retries = 0;
      this.#events.onStatus('open');
      for (const target of this.#targets.values()) this.#send({ register_to: target });
    });
    socket.addEventListener('message', (event) => {
      if (typeof event.data !== 'string') return;
      this.#events.onFrame(JSON.parse(event.data) as ServerFrame);
    });
    socket.addEventListener('close', (event) => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      // 1008 (policy violation) is the dispatcher's answer to a wrong password.
      if (!this.#wasOpen || event.code === POLICY_VIOLATION) {
        this.#events.onStatus('refused');
        return;
      }
      this.#events.onStatus('closed');
      const delay = Math.min(30_000, 500 * 2 ** this.#retries++);
      setTimeout(() => this.#open(), delay);
    });
  }

  #send(frame: object): void {
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(JSON.stringify(frame));
  }
}

function base64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}
