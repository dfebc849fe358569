import type { AMQHandler } from '../../types';
import type { SuiteContext } from '../context';
import { sleep } from '../helpers';

/** `' [skipped: reason]'` for a test title when `lacks`, else `''` (falsy, for `it.skipIf`). */
export function skipReason(lacks: boolean, reason: string): string {
  return lacks ? ` [skipped: ${reason}]` : '';
}

/** Makes the handler's callback record the URL of every callback message, in order. */
export function urlsOf(handler: AMQHandler): string[] {
  const urls: string[] = [];
  handler.callback = (message) => {
    if (message.kind === 'callback') urls.push(message.url);
  };
  return urls;
}

/** The handler's bindings as the broker lists them (`binding <exchange> <key>`), sorted. */
export async function bindingsOnBroker(
  suite: SuiteContext,
  handler: AMQHandler,
): Promise<string[]> {
  const resources = (await suite.target.capabilities?.brokerResources?.(handler)) ?? [];
  return resources.filter((line) => line.startsWith('binding ')).sort();
}

/**
 * Reads `read()` until `holds` accepts what it returned, and returns that;
 * after `timeoutMs`, throws with the last value read.
 */
export async function eventually<T>(
  read: () => Promise<T> | T,
  holds: (value: T) => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (holds(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(value)}`,
      );
    }
    await sleep(100);
  }
}

/** Whether two lists hold the same strings in the same order. */
export function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index]);
}

/** An error's message and its causes' messages: where a password or token would show. */
export function errorChain(error: unknown): string[] {
  const messages: string[] = [];
  for (let current = error, depth = 0; current !== undefined && depth < 10; depth++) {
    messages.push(
      current instanceof Error ? `${current.name}: ${current.message}` : String(current),
    );
    current = current instanceof Error ? current.cause : undefined;
  }
  return messages;
}
