import { EXCHANGE_NAMES } from '@teal/amq-core';
import { connect as amqpConnect } from 'amqplib';

/** RabbitMQ keeps the (non-durable) exchanges until it restarts: remove a run's. */
export async function deleteRabbitExchanges(url: string, prefix: string): Promise<void> {
  const model = await amqpConnect(url);
  try {
    const channel = await model.createChannel();
    for (const name of EXCHANGE_NAMES) await channel.deleteExchange(`${prefix}${name}`);
  } finally {
    await model.close();
  }
}
