import { describe, expect, it } from 'vitest';
import * as errors from '../src/errors';

/** A second instance of the errors module: a query string makes the loader evaluate it again. */
async function secondCopy(tag: string): Promise<typeof errors> {
  const path = `../src/errors.ts?${tag}`;
  return (await import(/* @vite-ignore */ path)) as typeof errors;
}

describe('error classes', () => {
  it('hold instanceof across two copies of core, as CommonJS and ES module builds would be', async () => {
    // A query makes a second, separate module instance: its classes are other objects.
    const copy = await secondCopy('second-copy');
    expect(copy.AMQSendError).not.toBe(errors.AMQSendError);
    const foreign = new copy.AMQSendError('from the other copy');
    expect(foreign).toBeInstanceOf(errors.AMQSendError);
    expect(foreign).toBeInstanceOf(errors.AMQError);
    expect(foreign instanceof errors.AMQBindError).toBe(false);
    expect(foreign instanceof errors.AMQClosedError).toBe(false);
    expect(new errors.AMQTimeoutError('here')).toBeInstanceOf(copy.AMQTimeoutError);
    expect(new errors.AMQTimeoutError('here')).toBeInstanceOf(Error);
    const overflow = new copy.AMQBacklogOverflowError('dropped', 3);
    expect(overflow).toBeInstanceOf(errors.AMQBacklogOverflowError);
    expect(overflow.dropped).toBe(3);
  });

  it('hold instanceof for an adapter subclass made by another copy', async () => {
    const copy = await secondCopy('adapter-copy');
    class ConnectionError extends copy.AMQError {
      override name = 'ConnectionError';
    }
    class LocalConnectionError extends errors.AMQError {
      static override readonly kind = 'ConnectionError';
    }
    const error = new ConnectionError('lost');
    expect(error).toBeInstanceOf(errors.AMQError);
    expect(error).toBeInstanceOf(LocalConnectionError);
    expect(error instanceof errors.AMQSendError).toBe(false);
    const forged: unknown = { name: 'AMQError', message: 'forged' };
    expect(forged instanceof errors.AMQError).toBe(false);
    const nothing: unknown = null;
    expect(nothing instanceof errors.AMQError).toBe(false);
  });
});
