import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on a random loopback port in front of RabbitMQ, so a test can
 * cut one handler off the network for a while (the shared broker stays up).
 */
export class OutageProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
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
    this.#isDown = true;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    await new Promise((resolve) => setTimeout(resolve, ms));
    this.#isDown = false;
  }

  /** Starts an outage that lasts until `restore()`. */
  cut(): void {
    this.#isDown = true;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  /**
   * Freezes every open connection (nothing goes through any more, nothing is
   * closed: a dead peer), while new connections work.
   */
  freeze(): void {
    for (const socket of this.#sockets) {
      socket.unpipe();
      socket.pause();
    }
  }

  restore(): void {
    this.#isDown = false;
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
    this.#sockets.add(client);
    this.#sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
