import { callbackMessage } from '@teal/messages';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from '../context';
import { randomKey, recordLogs, waitFor } from '../helpers';
import type { BrokerTarget } from '../target';
import { errorChain, skipReason } from './support';

/**
 * How long one bad frame may hold up the next good message. A frame that
 * stalls a reader shows as a wait for its next timer, 5 s or more in every
 * adapter (PostgreSQL's poll, Redis's block); a clean-clone CI run, with every
 * package's suites at once on two cores, took 1,024 and 1,272 ms on a frame
 * that takes 40 ms on a quiet machine, so 1 s told the load, not the adapter.
 */
const NEXT_MESSAGE_MS = 2_000;

const utf8 = new TextEncoder();

/** A wire body that would be valid, to spoil. */
function validBody(url: string): string {
  return JSON.stringify({ timestamp: '2024-01-01T00:00:00', url, state: 'k' });
}

/** Bodies no TeaL message is made of, each hiding `secret` somewhere. */
const GARBAGE: ReadonlyArray<(secret: string) => string | Uint8Array> = [
  (secret) => `{"state": "${secret}", "url":`, // truncated JSON
  (secret) => JSON.stringify({ url: `https://x.test/?t=${secret}` }), // a missing field
  (secret) => JSON.stringify({ timestamp: 12, url: secret, state: 5 }), // mistyped fields
  (secret) => validBody('u').replace('2024-01-01T00:00:00', secret), // a date that is not one
  (secret) => `["${secret}"]`,
  () => '',
  (secret) => new Uint8Array([0xff, 0xfe, ...utf8.encode(secret)]), // not UTF-8
  (secret) => {
    const text = validBody(secret); // UTF-16 instead of UTF-8
    return new Uint8Array(new Uint16Array([...text].map((c) => c.charCodeAt(0))).buffer);
  },
  (secret) => `${'['.repeat(100_000)}"${secret}"${']'.repeat(100_000)}`, // nested 100,000 deep
  (secret) => `${'x'.repeat(2 * 1024 * 1024)}${secret}`, // 2 MiB of noise
];

export function hostileSuite(suite: SuiteContext): void {
  const capabilities = suite.target.capabilities ?? {};
  const publishAtBroker = capabilities.publishAtBroker;
  const lacksRaw = skipReason(
    publishAtBroker === undefined,
    'the adapter declares no publishAtBroker',
  );

  /**
   * Publishes `frame` at broker level on a bound key, then a valid message,
   * and checks that it arrives within 2 s and that nothing quoted the secret.
   */
  const survives = async (
    frames: ReadonlyArray<(target: BrokerTarget, secret: string) => Promise<void>>,
  ) => {
    const { logger, records } = recordLogs();
    const errors: unknown[] = [];
    const receiver = await suite.handler({ logger, onError: (error) => errors.push(error) });
    const arrivals = new Map<string, number>();
    receiver.callback = (message) => {
      if (message.kind === 'callback') arrivals.set(message.url, performance.now());
    };
    const state = randomKey('hostile');
    await receiver.bindCallbackState(state);
    const sender = await suite.handler();
    const target: BrokerTarget = {
      exchangePrefix: suite.testPrefix(),
      exchange: 'callbacks',
      routingKey: state,
    };
    const secret = `Hostile-Secret-${Math.random().toString(36).slice(2)}`;
    for (const [index, publish] of frames.entries()) {
      const warningsBefore = records.filter((record) => record.level !== 'debug').length;
      await publish(target, secret);
      const url = `https://x.test/cb?after=${index}`;
      await sender.send(callbackMessage({ url, state }));
      const sent = performance.now();
      await waitFor(() => arrivals.has(url), `the message after frame ${index}`, 10_000);
      expect(
        arrivals.get(url)! - sent,
        `ms from the send after frame ${index} to its delivery`,
      ).toBeLessThan(NEXT_MESSAGE_MS);
      expect(receiver.isConnected).toBe(true);
      await waitFor(
        () => records.filter((record) => record.level !== 'debug').length > warningsBefore,
        `a warning for frame ${index}`,
        5_000,
      );
    }
    expect(arrivals.size).toBe(frames.length);
    expect(JSON.stringify(records)).not.toContain(secret);
    expect(JSON.stringify(errors.map(errorChain))).not.toContain(secret);
  };

  describe('hostile frames', () => {
    it.skipIf(lacksRaw)(
      `drops garbage bodies published at broker level, each with a warning quoting nothing, and delivers the next message within 2 s${lacksRaw}`,
      async () => {
        await survives(
          GARBAGE.map((garbage) => (target, secret) => publishAtBroker!(target, garbage(secret))),
        );
      },
      60_000,
    );

    for (const frame of capabilities.hostileFrames ?? []) {
      it(`drops ${frame.name} with a warning quoting nothing, and delivers the next message within 2 s`, async () => {
        await survives([(target, secret) => frame.publish(target, secret)]);
      }, 60_000);
    }
  });
}
