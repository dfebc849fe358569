import { connect, type Socket } from 'node:net';

/** What came back on a raw connection: the status (0 if none) and everything read. */
export interface RawResponse {
  readonly statusCode: number;
  readonly text: string;
  /** Milliseconds from the first byte written to the connection's end. */
  readonly elapsedMs: number;
}

/** Opens a TCP connection to the host and port of `baseUrl`. */
export function openConnection(baseUrl: string): Promise<Socket> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/**
 * Writes `request` as it is (malformed or not) on a fresh connection and
 * reads until the server ends it or `timeoutMs` passes; an upgrade answered
 * 101 is read until its head. `endAfterWrite` half-closes the connection
 * once the request is written.
 */
export async function rawRequest(
  baseUrl: string,
  request: string | Buffer,
  timeoutMs = 10_000,
  { endAfterWrite = false }: { endAfterWrite?: boolean } = {},
): Promise<RawResponse> {
  const socket = await openConnection(baseUrl);
  const started = performance.now();
  return new Promise((resolve) => {
    let text = '';
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const statusCode = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ statusCode, text, elapsedMs: performance.now() - started });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.startsWith('HTTP/1.1 101') && text.includes('\r\n\r\n')) finish();
    });
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', finish);
    socket.write(request);
    // A request the parser cannot finish must not wait for a timeout: the client is done.
    if (endAfterWrite) socket.end();
  });
}

/** Resolves once the server closed `socket`, with the milliseconds it took. */
export function closed(socket: Socket): Promise<number> {
  const started = performance.now();
  return new Promise((resolve) => {
    if (socket.destroyed) resolve(0);
    socket.once('close', () => resolve(performance.now() - started));
    socket.resume();
  });
}
