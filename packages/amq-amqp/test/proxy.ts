import { connect, createServer, type Server, type Socket } from 'node:net';

interface Link {
  readonly client: Socket;
  readonly upstream: Socket;
  /** What each side wrote while the link was stalled: `null` when it forwards. */
  toUpstream: Buffer[] | null;
  toClient: Buffer[] | null;
  /** The handler ended its side politely (FIN) while stalled: forward the end on heal. */
  clientEnded: boolean;
}

/**
 * A TCP proxy on a random loopback port in front of RabbitMQ, so a test can
 * cut one handler off the network (the shared broker stays up), or stall its
 * connection as a network partition does and heal it later.
 *
 * A stalled link holds what either side writes and forwards it on `heal()`,
 * as TCP retransmission would once the path is back — unless the handler
 * reset its socket meanwhile (its kernel then drops what it had not got
 * acknowledged), in which case nothing it wrote ever reaches the broker.
 */
export class OutageProxy {
  readonly #server: Server;
  readonly #links = new Set<Link>();
  readonly #target: { host: string; port: number };
  #isDown = false;

  private constructor(server: Server, target: { host: string; port: number }) {
    this.#server = server;
    this.#target = target;
  }

  static async start(brokerUrl: string): Promise<OutageProxy> {
    const url = new URL(brokerUrl);
    const target = { host: url.hostname, port: Number(url.port || 5672) };
    const server = createServer();
    const proxy = new OutageProxy(server, target);
    server.on('connection', (socket) => proxy.#accept(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** `brokerUrl` with its host and port replaced by the proxy's. */
  urlFor(brokerUrl: string): string {
    const url = new URL(brokerUrl);
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy not listening');
    url.hostname = '127.0.0.1';
    url.port = String(address.port);
    return url.toString();
  }

  /** Cuts every connection and refuses new ones for `ms`. */
  async outage(ms: number): Promise<void> {
    this.cut();
    await new Promise((resolve) => setTimeout(resolve, ms));
    this.restore();
  }

  /** Starts an outage that lasts until `restore()`. */
  cut(): void {
    this.#isDown = true;
    for (const link of [...this.#links]) this.#drop(link);
  }

  restore(): void {
    this.#isDown = false;
  }

  /**
   * Stalls every open connection: nothing goes through, nothing is closed, a
   * silent peer. New connections work. Never healed, a stalled link is what
   * a peer that vanished looks like.
   */
  stall(): void {
    for (const link of this.#links) {
      link.toUpstream ??= [];
      link.toClient ??= [];
    }
  }

  /** The network is back: every stalled link delivers what it held, late, and forwards again. */
  heal(): void {
    for (const link of [...this.#links]) {
      const { toUpstream, toClient } = link;
      link.toUpstream = null;
      link.toClient = null;
      for (const data of toUpstream ?? []) link.upstream.write(data);
      for (const data of toClient ?? []) link.client.write(data);
      if (link.clientEnded) link.upstream.end();
    }
  }

  /** How many bytes the handlers wrote into stalled links so far, not yet delivered. */
  get heldBytes(): number {
    let bytes = 0;
    for (const link of this.#links) {
      for (const data of link.toUpstream ?? []) bytes += data.length;
    }
    return bytes;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    if (this.#isDown) {
      client.destroy();
      return;
    }
    const upstream = connect(this.#target);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const link: Link = { client, upstream, toUpstream: null, toClient: null, clientEnded: false };
    this.#links.add(link);
    // A reset handler socket: whatever it wrote into a stalled link is gone.
    client.on('error', () => this.#drop(link));
    upstream.on('error', () => this.#drop(link));
    client.on('close', () => {
      if (link.toUpstream === null) this.#drop(link);
    });
    upstream.on('close', () => this.#drop(link));
    client.on('end', () => {
      if (link.toUpstream === null) upstream.end();
      else link.clientEnded = true;
    });
    client.on('data', (data: Buffer) => {
      if (link.toUpstream !== null) link.toUpstream.push(data);
      else upstream.write(data);
    });
    upstream.on('data', (data: Buffer) => {
      if (link.toClient !== null) link.toClient.push(data);
      else client.write(data);
    });
  }

  #drop(link: Link): void {
    if (!this.#links.delete(link)) return;
    link.toUpstream = null;
    link.toClient = null;
    link.client.destroy();
    link.upstream.destroy();
  }
}
