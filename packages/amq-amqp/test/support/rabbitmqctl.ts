import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type AMQHandler, isExchangeName } from '@teal/amq-core';
import { transportOf } from '@teal/amq-core/testing';
import type { AmqpTransport } from '../../src/transport';

const run = promisify(execFile);

/**
 * The RabbitMQ node `rabbitmqctl` talks to: the local install's by default,
 * or a private node of a test (its name, and the HOME holding its cookie).
 */
export interface RabbitNode {
  readonly name: string;
  readonly home: string;
}

/** Runs `rabbitmqctl` against `node`, or against the local install's node. */
export async function rabbitmqctl(args: readonly string[], node?: RabbitNode): Promise<string> {
  const { stdout } =
    node === undefined
      ? await run('rabbitmqctl', [...args], { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 })
      : await run('/usr/lib/rabbitmq/bin/rabbitmqctl', ['-n', node.name, ...args], {
          timeout: 30_000,
          maxBuffer: 64 * 1024 * 1024,
          env: { ...process.env, HOME: node.home },
        });
  return stdout;
}

/**
 * A `rabbitmqctl list_…` as JSON rows with these columns. A listing that
 * meets a queue as it is deleted fails (`badrpc`): it is read again.
 */
async function list<Row>(
  what: string,
  columns: readonly string[],
  node?: RabbitNode,
): Promise<Row[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      const text = await rabbitmqctl([what, '-q', '--formatter', 'json', ...columns], node);
      return text.trim() === '' ? [] : (JSON.parse(text) as Row[]);
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
}

interface BindingRow {
  readonly source_name: string;
  readonly destination_name: string;
  readonly destination_kind: string;
  readonly routing_key: string;
}

/**
 * What the broker itself holds for a queue of a prefix, in the lines of
 * `Transport.resources()`: `queue <name>`, `consumer <queue>` for each of its
 * consumers, `binding <exchange> <key>` for each binding from a TeaL exchange
 * of the prefix (the default exchange's implicit binding left out).
 */
export async function queueResources(
  queueName: string,
  exchangePrefix: string,
  node?: RabbitNode,
): Promise<string[]> {
  const [queues, consumers, bindings] = await Promise.all([
    list<{ name: string }>('list_queues', ['name'], node),
    list<{ queue_name: string }>('list_consumers', ['queue_name'], node),
    list<BindingRow>(
      'list_bindings',
      ['source_name', 'destination_name', 'destination_kind', 'routing_key'],
      node,
    ),
  ]);
  const lines: string[] = [];
  if (queues.some((row) => row.name === queueName)) lines.push(`queue ${queueName}`);
  for (const row of consumers)
    if (row.queue_name === queueName) lines.push(`consumer ${queueName}`);
  for (const row of bindings) {
    if (row.destination_kind !== 'queue' || row.destination_name !== queueName) continue;
    if (row.source_name === '') continue;
    const exchange = row.source_name.startsWith(exchangePrefix)
      ? row.source_name.slice(exchangePrefix.length)
      : row.source_name;
    lines.push(
      `binding ${isExchangeName(exchange) ? exchange : row.source_name} ${row.routing_key}`,
    );
  }
  return lines.sort();
}

/** What the broker holds for a handler: its queue, consumers and bindings (connections aside). */
export function brokerResources(handler: AMQHandler, node?: RabbitNode): Promise<string[]> {
  const { queueName, exchangePrefix } = transportOf<AmqpTransport>(handler).settings;
  return queueResources(queueName, exchangePrefix, node);
}

/** The broker's bindings of a handler's queue, as `binding <exchange> <key>` lines. */
export async function brokerBindings(handler: AMQHandler, node?: RabbitNode): Promise<string[]> {
  return (await brokerResources(handler, node)).filter((line) => line.startsWith('binding '));
}
