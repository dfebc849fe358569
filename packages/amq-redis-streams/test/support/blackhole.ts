import { connect, createServer, type Server, type Socket } from 'node:net';

interface Link {
  readonly client: Socket;
  readonly upstream: Socket;
  isSilent: boolean;
}

/**
 * A TCP proxy whose `silenceExisting()` makes the connections it carries go
 * quiet for ever — open, forwarding nothing either way — while new ones pass:
 * a NAT or load balancer that forgot a flow, with the server itself fine.
 * Only a client that notices the silence on its own recovers.
 */
export class BlackholeProxy {
  readonly #server: Server;
  readonly #links = new Set<Link>();
  accepted = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(target: { host: string; port: number }): Promise<BlackholeProxy> {
    const server = createServer({ noDelay: true });
    const proxy = new BlackholeProxy(server);
    server.on('connection', (client) => proxy.#accept(client, target));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get url(): string {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy not listening');
    return `redis://127.0.0.1:${address.port}`;
  }

  /** Every connection open now forwards nothing more, and is never closed by the proxy. */
  silenceExisting(): void {
    for (const link of this.#links) link.isSilent = true;
  }

  async stop(): Promise<void> {
    for (const link of this.#links) {
      link.client.destroy();
      link.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket, target: { host: string; port: number }): void {
    this.accepted++;
    const upstream = connect({ ...target, noDelay: true });
    const link: Link = { client, upstream, isSilent: false };
    this.#links.add(link);
    const end = () => {
      this.#links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.on('data', (data) => {
      if (!link.isSilent) upstream.write(data);
    });
    upstream.on('data', (data) => {
      if (!link.isSilent) client.write(data);
    });
  }
}
