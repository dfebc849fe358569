import { type AMQExchangeName, AMQUnconfirmedSendError, raceSignal } from '@teal/amq-core/adapter';
import type { NatsLink } from './connection';
import type { Part } from './publisher-chunks';

/**
 * Core NATS publishing: the parts are written, then a flush (PING/PONG) that
 * the server answers only after it processed them confirms them. Flushes are
 * coalesced, so concurrent sends are pipelined. A message is never written
 * twice: core NATS delivers at most once.
 */
export class CorePublisher {
  readonly #link: NatsLink;

  constructor(link: NatsLink) {
    this.#link = link;
  }

  async publish(
    exchange: AMQExchangeName,
    subject: string,
    parts: readonly Part[],
    signal: AbortSignal,
  ): Promise<void> {
    const link = this.#link;
    await link.waitConnected(signal);
    signal.throwIfAborted();
    const epoch = link.disconnects;
    for (const part of parts) {
      link.nc.publish(subject, part.data, part.headers ? { headers: part.headers } : undefined);
    }
    try {
      await raceSignal(link.flush(), signal);
    } catch (error) {
      if (signal.aborted) {
        link.abandon(epoch, 'the server did not confirm a publish before its deadline');
        throw error;
      }
      // The connection dropped before the server confirmed: whether it got the message is
      // unknown, and sending it again could deliver it twice.
      throw new AMQUnconfirmedSendError(
        `[@teal/amq-nats] the connection to ${link.server} dropped before the server confirmed the message on ${exchange}: it was not sent again, and may or may not have been delivered (core NATS delivers at most once; use mode=jetstream for confirmed sends)`,
        { cause: error },
      );
    }
  }
}
