import { waitFor } from '@teal/amq-core/testing';
import { WebSocket } from 'ws';

export type Frame = { readonly type: string } & Record<string, unknown>;

/** A test WebSocket client that keeps every frame it received. */
export class TestSocket {
  readonly socket: WebSocket;
  readonly frames: Frame[] = [];
  closeCode: number | null = null;
  closeReason = '';

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data) => this.frames.push(JSON.parse(String(data)) as Frame));
    socket.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
    });
  }

  /** Opens a socket (`/ws` by default); rejects with `UpgradeRefused` when the server answers HTTP instead. */
  static open(
    baseUrl: string,
    options: { path?: string; headers?: Record<string, string>; autoPong?: boolean } = {},
  ): Promise<TestSocket> {
    const url = `${baseUrl.replace(/^http/, 'ws')}${options.path ?? '/ws'}`;
    const socket = new WebSocket(url, {
      headers: options.headers ?? {},
      autoPong: options.autoPong ?? true,
    });
    const client = new TestSocket(socket);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(client));
      socket.once('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => {
          body += chunk.toString();
        });
        response.on('end', () => {
          reject(new UpgradeRefused(response.statusCode ?? 0, response.headers, body));
          socket.terminate();
        });
      });
      socket.once('error', reject);
    });
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Waits for the first frame received after index `from` that matches. */
  async next(predicate: (frame: Frame) => boolean, what: string, from = 0): Promise<Frame> {
    let found: Frame | undefined;
    await waitFor(() => {
      found = this.frames.slice(from).find(predicate);
      return found !== undefined;
    }, what);
    return found!;
  }

  /** Sends a message and waits for the next answer of one of `types`. */
  async request(
    frame: unknown,
    types: readonly string[] = ['registered', 'unregistered', 'error'],
  ): Promise<Frame> {
    const from = this.frames.length;
    this.send(frame);
    return this.next(
      (answer) => types.includes(answer.type),
      `an answer of type ${types.join('|')}`,
      from,
    );
  }

  /** Waits until the server closed the socket; returns its code and reason. */
  async closed(): Promise<{ code: number; reason: string }> {
    await waitFor(() => this.closeCode !== null, 'the socket to close');
    return { code: this.closeCode!, reason: this.closeReason };
  }

  async close(): Promise<void> {
    if (this.closeCode !== null) return;
    const closed = new Promise((resolve) => this.socket.once('close', resolve));
    this.socket.close();
    await closed;
  }
}

/** An upgrade the server answered with an HTTP status instead of a WebSocket. */
export class UpgradeRefused extends Error {
  override readonly name = 'UpgradeRefused';
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;

  constructor(statusCode: number, headers: UpgradeRefused['headers'], body: string) {
    super(`the upgrade was refused with HTTP ${statusCode}`);
    this.statusCode = statusCode;
    this.headers = headers;
    this.body = body;
  }
}

/** The HTTP Basic header of `user:password`. */
export function basic(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}
