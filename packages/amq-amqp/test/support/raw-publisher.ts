import { connect, type Socket } from 'node:net';

/** A content header's properties, already encoded: flags, then the property list. */
export interface RawProperties {
  readonly flags: number;
  readonly list: Buffer;
}

const FRAME_METHOD = 1;
const FRAME_HEADER = 2;
const FRAME_BODY = 3;
const FRAME_END = 0xce;
const FRAME_MAX = 131_072;

/**
 * A minimal AMQP 0-9-1 publisher on a bare socket, for frames no client
 * library would write: it opens a connection and a confirm channel, writes a
 * publish with whatever content-header bytes it is given, and waits for the
 * broker's ack. What a hostile client of the broker can do, and no more.
 */
export async function publishRaw(
  url: string,
  target: { exchange: string; routingKey: string },
  properties: RawProperties,
  body: Buffer,
): Promise<void> {
  const parsed = new URL(url);
  const socket = connect({ host: parsed.hostname, port: Number(parsed.port || 5672) });
  const frames = new FrameReader(socket);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve).once('error', reject);
    });
    socket.write(Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]));
    await frames.method(10, 10); // connection.start
    const user = decodeURIComponent(parsed.username || 'guest');
    const password = decodeURIComponent(parsed.password || 'guest');
    send(socket, 0, 10, 11, [
      longString(Buffer.alloc(0)), // client properties: an empty table
      shortString('PLAIN'),
      longString(Buffer.from(`\0${user}\0${password}`)),
      shortString('en_US'),
    ]);
    await frames.method(10, 30); // connection.tune
    send(socket, 0, 10, 31, [uint16(16), uint32(FRAME_MAX), uint16(0)]);
    const vhost = decodeURIComponent(parsed.pathname.slice(1)) || '/';
    send(socket, 0, 10, 40, [shortString(vhost), shortString(''), Buffer.from([0])]);
    await frames.method(10, 41);
    send(socket, 1, 20, 10, [shortString('')]);
    await frames.method(20, 11);
    send(socket, 1, 85, 10, [Buffer.from([0])]); // confirm.select
    await frames.method(85, 11);
    send(socket, 1, 60, 40, [
      uint16(0),
      shortString(target.exchange),
      shortString(target.routingKey),
      Buffer.from([0]),
    ]);
    const size = Buffer.alloc(8);
    size.writeBigUInt64BE(BigInt(body.length));
    frame(socket, FRAME_HEADER, 1, [
      uint16(60),
      uint16(0),
      size,
      uint16(properties.flags),
      properties.list,
    ]);
    for (let offset = 0; offset < body.length; offset += FRAME_MAX - 8) {
      frame(socket, FRAME_BODY, 1, [body.subarray(offset, offset + FRAME_MAX - 8)]);
    }
    const [, method] = await frames.next();
    if (method !== 80) throw new Error(`the broker did not ack the raw publish (method ${method})`);
  } finally {
    socket.destroy();
  }
}

/** Reads whole frames off the socket; `method()` waits for one method, skipping heartbeats. */
class FrameReader {
  #buffer = Buffer.alloc(0);
  #waiting: (() => void) | null = null;
  #error: Error | null = null;

  constructor(socket: Socket) {
    socket.on('data', (data: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, data]);
      this.#waiting?.();
    });
    const fail = (error: Error) => {
      this.#error = error;
      this.#waiting?.();
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('the broker closed the raw connection')));
  }

  async method(classId: number, methodId: number): Promise<void> {
    const [gotClass, gotMethod] = await this.next();
    if (gotClass !== classId || gotMethod !== methodId) {
      throw new Error(`expected method ${classId}.${methodId}, got ${gotClass}.${gotMethod}`);
    }
  }

  /** The class and method of the next method frame. */
  async next(): Promise<[number, number]> {
    for (;;) {
      if (this.#buffer.length >= 7) {
        const size = this.#buffer.readUInt32BE(3);
        if (this.#buffer.length >= size + 8) {
          const type = this.#buffer[0];
          const payload = this.#buffer.subarray(7, 7 + size);
          this.#buffer = this.#buffer.subarray(size + 8);
          if (type === FRAME_METHOD) return [payload.readUInt16BE(0), payload.readUInt16BE(2)];
          continue;
        }
      }
      if (this.#error !== null) throw this.#error;
      await new Promise<void>((resolve) => {
        this.#waiting = resolve;
      });
      this.#waiting = null;
    }
  }
}

function send(socket: Socket, channel: number, classId: number, methodId: number, args: Buffer[]) {
  frame(socket, FRAME_METHOD, channel, [uint16(classId), uint16(methodId), ...args]);
}

function frame(socket: Socket, type: number, channel: number, parts: Buffer[]): void {
  const payload = Buffer.concat(parts);
  const head = Buffer.alloc(7);
  head[0] = type;
  head.writeUInt16BE(channel, 1);
  head.writeUInt32BE(payload.length, 3);
  socket.write(Buffer.concat([head, payload, Buffer.from([FRAME_END])]));
}

function uint16(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16BE(value);
  return buffer;
}

function uint32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
}

function shortString(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

export function longString(bytes: Buffer): Buffer {
  return Buffer.concat([uint32(bytes.length), bytes]);
}

/** A header table holding one key `a` nested `depth` tables deep, with `secret` at the bottom. */
export function nestedHeaders(depth: number, secret: string): RawProperties {
  let inner = Buffer.concat([shortString('s'), Buffer.from('S'), longString(Buffer.from(secret))]);
  for (let level = 0; level < depth; level++) {
    inner = Buffer.concat([shortString('a'), Buffer.from('F'), longString(inner)]);
  }
  // Only the `headers` property (bit 13 of the flags) is present.
  return { flags: 0x2000, list: longString(inner) };
}

/** A flat header table of string values, which may be larger than amqplib encodes (64 KiB). */
export function flatHeaders(entries: ReadonlyArray<readonly [string, string]>): RawProperties {
  const table = Buffer.concat(
    entries.flatMap(([key, value]) => [
      shortString(key),
      Buffer.from('S'),
      longString(Buffer.from(value)),
    ]),
  );
  return { flags: 0x2000, list: longString(table) };
}
