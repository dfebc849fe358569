import { WebSocket } from 'ws';

/** What one waiting socket registered to, and what it received. */
export interface WaitingSocket {
  readonly state: string;
  /** The Powens domain it also waits on, for some sockets. */
  readonly domain: string | null;
  callbacks: number;
  webhooks: number;
  /** Frames for a key this socket never registered to. */
  misdelivered: number;
  closeCode: number | null;
}

export interface SocketPool {
  readonly sockets: readonly WaitingSocket[];
  /** Terminates every socket. */
  close(): void;
}

export interface PoolOptions {
  readonly dispatcherUrl: string;
  readonly password: string;
  readonly count: number;
  /** One socket in `domainEvery` also waits on a Powens domain of its own. */
  readonly domainEvery: number;
  /** A stem that makes the keys of this run unique. */
  readonly runId: string;
  /** How many sockets are being opened at once. */
  readonly concurrency?: number;
  readonly timeoutMs?: number;
}

export function stateOf(runId: string, index: number): string {
  return `load-${runId}-${index}`;
}

export function domainOf(runId: string, index: number): string {
  return `load-${runId}-${index}.biapi.pro`;
}

/**
 * Opens `count` WebSockets on the dispatcher's `/ws`, each registered to its
 * own OAuth state (and some to a Powens domain), and resolves once the
 * dispatcher confirmed every registration (`registered`: the broker binding
 * is in place). Each socket counts the frames it gets, and those for a key
 * that is not its own.
 */
export async function openSocketPool(options: PoolOptions): Promise<SocketPool> {
  const url = `${options.dispatcherUrl.replace(/^http/, 'ws')}/ws`;
  const authorization = `Basic ${Buffer.from(`anonymous:${options.password}`).toString('base64')}`;
  const clients: WebSocket[] = [];
  const sockets: WaitingSocket[] = [];
  const close = () => {
    for (const client of clients) client.terminate();
  };
  const openOne = (index: number): Promise<void> => {
    const waiting: WaitingSocket = {
      state: stateOf(options.runId, index),
      domain: index % options.domainEvery === 0 ? domainOf(options.runId, index) : null,
      callbacks: 0,
      webhooks: 0,
      misdelivered: 0,
      closeCode: null,
    };
    sockets.push(waiting);
    const client = new WebSocket(url, { headers: { authorization } });
    clients.push(client);
    let pending = waiting.domain === null ? 1 : 2;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`socket ${index} was not registered within the deadline`)),
        options.timeoutMs ?? 60_000,
      );
      client.once('open', () => {
        client.send(JSON.stringify({ register_to: { type: 'callback', state: waiting.state } }));
        if (waiting.domain !== null) {
          client.send(
            JSON.stringify({
              register_to: { type: 'powens_domain', powens_domain: waiting.domain },
            }),
          );
        }
      });
      client.on('message', (data) => {
        const frame = JSON.parse(String(data)) as Record<string, unknown>;
        if (frame.type === 'registered') {
          pending -= 1;
          if (pending === 0) {
            clearTimeout(timer);
            resolve();
          }
        } else if (frame.type === 'callback') {
          if (frame.state === waiting.state) waiting.callbacks += 1;
          else waiting.misdelivered += 1;
        } else if (frame.type === 'powens_webhook') {
          if (frame.domain === waiting.domain) waiting.webhooks += 1;
          else waiting.misdelivered += 1;
        } else if (frame.type === 'error') {
          clearTimeout(timer);
          reject(new Error(`socket ${index}: the dispatcher answered ${String(frame.error)}`));
        }
      });
      client.once('unexpected-response', (_request, response) => {
        clearTimeout(timer);
        reject(new Error(`socket ${index}: the upgrade was refused with ${response.statusCode}`));
      });
      client.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      client.once('close', (code) => {
        waiting.closeCode = code;
      });
    });
  };
  const concurrency = options.concurrency ?? 100;
  let next = 0;
  const worker = async () => {
    while (next < options.count) await openOne(next++);
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, options.count) }, worker));
  } catch (error) {
    close();
    throw error;
  }
  return { sockets, close };
}
