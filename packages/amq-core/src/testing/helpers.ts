import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { messageOf } from '@teal/amq-core/adapter';
import type { Message } from '@teal/messages';
import type { AMQExchangeName } from '../exchanges';
import type { LogFields, Logger } from '../logger';
import type { Backlog, Transport } from '../transport';
import type { AMQHandler } from '../types';

// Registered symbols: the testing bundle meets handlers made by the main bundle.
const publishRaw = Symbol.for('@teal/amq-core.publishRaw');
const transportKey = Symbol.for('@teal/amq-core.transport');
const backlogKey = Symbol.for('@teal/amq-core.backlog');

/** A random exchange prefix, so that tests never share broker state. */
export function randomPrefix(): string {
  return `teal-test-${Math.random().toString(36).slice(2, 10)}.`;
}

/** A random routing key with a readable stem. */
export function randomKey(stem = 'key'): string {
  return `${stem}-${Math.random().toString(36).slice(2, 12)}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `condition` every `intervalMs` until it holds; throws `what` after
 * `timeoutMs`. The condition may ask the broker (return a promise).
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
  intervalMs = 5,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Sends a raw body (garbage included) through a handler's transport, bypassing the codec. */
export function publishRawForTesting(
  handler: AMQHandler,
  exchange: AMQExchangeName,
  routingKey: string,
  body: string | Uint8Array,
): Promise<void> {
  const publish = (handler as unknown as Record<symbol, unknown>)[publishRaw];
  if (typeof publish !== 'function') {
    throw new TypeError(
      '[@teal/amq-core] publishRawForTesting() needs a handler made by createHandler()',
    );
  }
  return (
    publish as (
      exchange: AMQExchangeName,
      routingKey: string,
      body: string | Uint8Array,
    ) => Promise<void>
  ).call(handler, exchange, routingKey, body);
}

/**
 * The broker-specific transport behind a handler made by `createHandler()`,
 * for adapter tests that drop its connection or inspect its broker resources.
 */
export function transportOf<T extends Transport>(handler: AMQHandler): T {
  const transport = (handler as unknown as Record<symbol, unknown>)[transportKey];
  if (transport === undefined || transport === null) {
    throw new TypeError(
      '[@teal/amq-core] transportOf() needs an open handler made by createHandler()',
    );
  }
  return transport as T;
}

/** Everything a handler delivers, in order. */
export class Inbox {
  readonly messages: Message[] = [];

  constructor(handler: AMQHandler) {
    handler.callback = (message) => {
      this.messages.push(message);
    };
  }

  get size(): number {
    return this.messages.length;
  }

  /** Waits until at least `count` messages arrived. */
  async receive(count: number, timeoutMs = 20_000): Promise<Message[]> {
    try {
      await waitFor(() => this.messages.length >= count, `${count} messages`, timeoutMs);
    } catch (error) {
      throw new Error(`${messageOf(error)} (got ${this.messages.length})`);
    }
    return this.messages;
  }

  /** Waits `ms` and checks that nothing more than `count` messages arrived. */
  async settle(count: number, ms = 300): Promise<Message[]> {
    await sleep(ms);
    if (this.messages.length !== count) {
      throw new Error(`expected exactly ${count} messages, got ${this.messages.length}`);
    }
    return this.messages;
  }
}

/** One record of a `recordLogs()` logger. */
export interface LogRecord {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: LogFields | undefined;
}

/** A logger that keeps every record, for tests that check what a handler logs (and that it logs no secret). */
export function recordLogs(): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at =
    (level: LogRecord['level']) =>
    (message: string, fields?: LogFields): void => {
      records.push({ level, message, fields });
    };
  return {
    records,
    logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
  };
}

/** A handler's backlog, and how many deliveries it dropped because it was full. */
export function backlogOf(handler: AMQHandler): Backlog & { readonly overflowed: number } {
  const backlog = (handler as unknown as Record<symbol, unknown>)[backlogKey];
  if (backlog === undefined || backlog === null) {
    throw new TypeError('[@teal/amq-core] backlogOf() needs a handler made by createHandler()');
  }
  return backlog as Backlog & { readonly overflowed: number };
}

let collectGarbage: (() => void) | undefined;

/** A full, synchronous garbage collection: V8's `gc` (Node, Deno), or Bun's own. */
function garbageCollector(): () => void {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun !== undefined) return () => bun.gc(true);
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * The process's heap and external memory (buffers) after full garbage
 * collections, in bytes: what a test that checks memory stays bounded compares.
 */
export async function memoryFootprint(): Promise<number> {
  collectGarbage ??= garbageCollector();
  for (let round = 0; round < 3; round++) {
    collectGarbage();
    await sleep(20);
  }
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}

/** Writes a figure a test measured (`[teal] …` on stderr), for the record of a run. */
export function reportFigure(line: string): void {
  process.stderr.write(`[teal] ${line}\n`);
}
