import type { Socket } from 'node:net';
import type { NatsConnection } from '@nats-io/transport-node';

/** The parts of the client's internals read here; the client's API exposes none of them. */
interface ClientInternals {
  readonly outbound: { size(): number };
  readonly transport?: { readonly socket?: unknown };
}

/**
 * The socket under the client: `abandon()` needs it to reset rather than
 * close (a close would still try to send what is queued). `undefined` if the
 * client's internals ever change shape.
 */
export function socketOf(nc: NatsConnection): Socket | undefined {
  return asSocket(internalsOf(nc)?.transport?.socket);
}

/**
 * Calls `publish` (which queues messages in the client) and then `flush`
 * (which queues a PING and, when no other flush is in flight, writes all that
 * is queued at once), and says whether what `publish` queued provably never
 * left: the socket was dead already (then neither is called), or the write
 * failed on the spot (a reset the kernel had and the client had not noticed
 * yet). None of it
 * reached the server then, and none of it will: a dead socket takes nothing,
 * and the client clears its buffer before it reconnects. Anything else —
 * written, partly written, still buffered, internals of another shape — may
 * arrive.
 */
export function writeAndFlush<T>(
  nc: NatsConnection,
  publish: () => void,
  flush: () => T,
): { flushed: T | undefined; isUnsent: boolean } {
  const internals = internalsOf(nc);
  const socket = asSocket(internals?.transport?.socket);
  if (internals === undefined || socket === undefined) {
    publish();
    return { flushed: flush(), isUnsent: false };
  }
  // A socket known dead takes nothing: the caller waits for the next one.
  if (isDead(socket)) return { flushed: undefined, isUnsent: true };
  const queuedBefore = internals.outbound.size();
  publish();
  // Shorter than before: the client wrote part of it already (its buffer was full).
  const isQueued = internals.outbound.size() > queuedBefore;
  const flushed = flush();
  const isWritten = isQueued && internals.outbound.size() === 0;
  return { flushed, isUnsent: isWritten && isDead(socket) };
}

function internalsOf(nc: NatsConnection): ClientInternals | undefined {
  const protocol = (nc as { protocol?: unknown }).protocol as Partial<ClientInternals> | undefined;
  return typeof protocol?.outbound?.size === 'function' ? (protocol as ClientInternals) : undefined;
}

function asSocket(value: unknown): Socket | undefined {
  return value !== null &&
    typeof value === 'object' &&
    typeof (value as Socket).resetAndDestroy === 'function'
    ? (value as Socket)
    : undefined;
}

/** A socket that writes nothing more: destroyed, failed, or ended. */
function isDead(socket: Socket): boolean {
  return socket.destroyed || socket.errored !== null || !socket.writable;
}
