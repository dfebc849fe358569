import { connect, createServer, type Server, type Socket } from 'node:net';

const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  'amqp:': 5672,
  'redis:': 6379,
  'nats:': 4222,
  'postgres:': 5432,
  'postgresql:': 5432,
};

/** Which way a frozen link stops forwarding. */
export type FreezeDirection = 'both' | 'toBroker' | 'toClient';

interface Link {
  readonly client: Socket;
  readonly upstream: Socket;
  /** What the link swallows: nothing (`null`), or one or both directions. */
  frozen: FreezeDirection | null;
  /** The client ended its side politely (FIN) while the link stalled: the end goes on `heal()`. */
  clientEnded: boolean;
  /** What each side wrote while the link stalls, forwarded on `heal()`; `null` when it does not stall. */
  held: { toUpstream: Buffer[]; toClient: Buffer[] } | null;
}

/**
 * A TCP proxy on a loopback port between handlers and their broker, which a
 * test uses to break the network of those handlers only (the broker, shared
 * with other suites, stays up):
 *
 * - `cut()` resets every connection and refuses new ones;
 * - `freeze()` keeps every connection open but forwards nothing either way,
 *   new ones included: a half-open link, a peer that vanished;
 * - `restore()` forwards again. A frozen connection never comes back: it is
 *   reset without forwarding what it swallowed, as a NAT that forgot it would,
 *   so a write that went into it can only land if the adapter sends it again;
 * - `freeze({ newConnections: 'forward' })` silences the open connections
 *   only: a load balancer that forgot some flows, the broker fine — only an
 *   adapter that notices the silence by itself recovers; `freeze({ direction:
 *   'toClient' })` swallows the broker's replies only (a write that lands but
 *   whose confirmation never comes back);
 * - `stall()` holds what either side of each open connection writes, and
 *   `heal()` delivers it late, as TCP retransmission does once a partition
 *   ends: what a handler wrote before its deadline may reach the broker after.
 */
export class FaultProxy {
  readonly #server: Server;
  readonly #target: { readonly host: string; readonly port: number };
  readonly #links = new Set<Link>();
  #mode: 'open' | 'cut' | 'frozen' = 'open';
  #frozenDirection: FreezeDirection = 'both';
  /** Connections accepted so far: tests see reconnects by it. */
  accepted = 0;

  private constructor(server: Server, target: { host: string; port: number }) {
    this.#server = server;
    this.#target = target;
  }

  /** Starts a proxy to the host and port of `brokerUrl`. */
  static async start(brokerUrl: string): Promise<FaultProxy> {
    const url = new URL(brokerUrl);
    const port = Number(url.port) || DEFAULT_PORTS[url.protocol];
    if (port === undefined) {
      throw new TypeError(`[@teal/amq-core] FaultProxy: no default port for ${url.protocol} URLs`);
    }
    const host = url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
    const server = createServer({ noDelay: true });
    const proxy = new FaultProxy(server, { host, port });
    server.on('connection', (socket) => proxy.#accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  /** The port the proxy listens on. */
  get port(): number {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy not listening');
    return address.port;
  }

  /** `brokerUrl` with its host and port replaced by the proxy's; credentials and query stay. */
  urlFor(brokerUrl: string): string {
    const url = new URL(brokerUrl);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  /** How many connections the proxy carries now. */
  get connections(): number {
    return this.#links.size;
  }

  /** Resets every connection and refuses new ones until `restore()`. */
  cut(): void {
    this.#mode = 'cut';
    for (const link of [...this.#links]) this.#reset(link);
  }

  /**
   * Forwards nothing more on the open connections and closes none, until
   * `restore()`; new connections freeze too, unless `newConnections` is `'forward'`.
   */
  freeze(
    options: { newConnections?: 'freeze' | 'forward'; direction?: FreezeDirection } = {},
  ): void {
    const direction = options.direction ?? 'both';
    if (options.newConnections !== 'forward') {
      this.#mode = 'frozen';
      this.#frozenDirection = direction;
    }
    for (const link of this.#links) link.frozen = direction;
  }

  /** Holds what either side of each open connection writes, until `heal()`; new connections pass. */
  stall(): void {
    for (const link of this.#links) link.held ??= { toUpstream: [], toClient: [] };
  }

  /** Delivers what the stalled connections held, late, and forwards again. */
  heal(): void {
    for (const link of this.#links) {
      const held = link.held;
      if (held === null) continue;
      link.held = null;
      for (const data of held.toUpstream) link.upstream.write(data);
      for (const data of held.toClient) link.client.write(data);
      if (link.clientEnded) link.upstream.end();
    }
  }

  /** Forwards new connections again; frozen ones are reset. */
  restore(): void {
    this.#mode = 'open';
    for (const link of [...this.#links]) if (link.frozen !== null) this.#reset(link);
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    this.accepted++;
    if (this.#mode === 'cut') {
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    const upstream = connect({ ...this.#target, noDelay: true });
    const link: Link = {
      client,
      upstream,
      frozen: this.#mode === 'frozen' ? this.#frozenDirection : null,
      clientEnded: false,
      held: null,
    };
    this.#links.add(link);
    const end = () => {
      if (!this.#links.delete(link)) return;
      client.destroy();
      upstream.destroy();
    };
    // A client that ends politely while its link stalls: TCP would still deliver what it
    // wrote before its FIN, so the broker's side stays open until `heal()` (or a reset).
    client.on('end', () => {
      if (link.held !== null) link.clientEnded = true;
    });
    client.on('error', end).on('close', () => {
      if (!link.clientEnded) end();
    });
    upstream.on('error', end).on('close', end);
    // What a frozen link receives is swallowed, as a network that drops packets would.
    client.on('data', (data) => {
      if (link.frozen === 'both' || link.frozen === 'toBroker') return;
      if (link.held !== null) link.held.toUpstream.push(data);
      else if (!upstream.write(data)) client.pause();
    });
    upstream.on('data', (data) => {
      if (link.frozen === 'both' || link.frozen === 'toClient') return;
      if (link.held !== null) link.held.toClient.push(data);
      else if (!client.write(data)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
    upstream.on('drain', () => client.resume());
  }

  #reset(link: Link): void {
    this.#links.delete(link);
    for (const socket of [link.client, link.upstream]) {
      socket.on('error', () => {});
      if (socket.connecting || socket.destroyed) socket.destroy();
      else socket.resetAndDestroy();
    }
  }
}
