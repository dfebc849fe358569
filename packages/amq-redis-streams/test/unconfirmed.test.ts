import { AMQSendError, AMQUnconfirmedSendError } from '@teal/amq-core';
import { describeWithBroker, sleep, waitFor } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import { type Pair, useTestBed } from './support/broker';
import { redisServerMissing, usePrivateRedis } from './support/server';

const DEADLINE_MS = 2_000;

/** Keeps Redis busy for ARGV[1] ms: what it receives meanwhile waits in its socket, already sent. */
const BUSY_SCRIPT = `local function now() local t = redis.call('TIME') return t[1] * 1000 + t[2] / 1000 end
local start = now()
while now() - start < tonumber(ARGV[1]) do end
return 1`;

/** Once the sender is back, sends one more message and waits until it arrived, and a little more. */
async function sendAfterRecovery(
  { sender, seen }: Pick<Pair, 'sender' | 'seen'>,
  state: string,
): Promise<void> {
  await waitFor(() => sender.isConnected, 'the sender to reconnect', 15_000);
  await sender.send(callbackMessage({ url: 'https://x.test/cb?after', state }));
  await waitFor(() => seen.includes('https://x.test/cb?after'), 'the message after');
  await sleep(500);
}

/**
 * What a rejected send means: an AMQUnconfirmedSendError when its write was
 * on the wire and Redis never answered (it may be delivered), any other
 * rejection when it never was written (it never is). Against a private
 * server, which a busy script may stall.
 */
describeWithBroker(
  'redis-streams sends whose outcome is unknown',
  await redisServerMissing(),
  () => {
    const redis = usePrivateRedis();
    const bed = useTestBed(() => redis.server.url);
    const pair = (state: string) => bed.proxiedPair(state, { sendTimeoutMs: DEADLINE_MS });

    it('rejects with AMQUnconfirmedSendError, before its deadline, a send Redis applied whose reply the link lost; it is delivered once', async () => {
      const state = 'reply-lost';
      const { proxy, sender, seen } = await pair(state);
      const busy = bed.admin.eval(BUSY_SCRIPT, 0, 600);
      await sleep(50);
      const started = performance.now();
      const sending = sender.send(callbackMessage({ url: 'https://x.test/cb?applied', state }));
      // The write reached Redis's socket; Redis applies it once the script ends, and answers
      // into a link that forwards nothing any more.
      await sleep(150);
      proxy.freeze();
      await busy;
      const error = await sending.then(
        () => null,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(AMQUnconfirmedSendError);
      expect(String(error)).toMatch(/may still be delivered, once/);
      expect(performance.now() - started).toBeLessThan(DEADLINE_MS);
      await waitFor(() => seen.includes('https://x.test/cb?applied'), 'the unconfirmed message');

      // The link back: ioredis sends the write again, past its deadline, and Redis refuses it.
      proxy.restore();
      await sendAfterRecovery({ sender, seen }, state);
      expect(seen).toEqual(['https://x.test/cb?applied', 'https://x.test/cb?after']);
    }, 30_000);

    it('rejects with a plain AMQSendError a send that never left, and never delivers it', async () => {
      const state = 'never-left';
      const { proxy, sender, seen } = await pair(state);
      proxy.cut();
      await waitFor(() => !sender.isConnected, 'the sender to see the cut');
      const error = await sender
        .send(callbackMessage({ url: 'https://x.test/cb?cut', state }))
        .then(
          () => null,
          (caught: unknown) => caught,
        );
      expect(error).toBeInstanceOf(AMQSendError);
      expect(error).not.toBeInstanceOf(AMQUnconfirmedSendError);
      proxy.restore();
      await sendAfterRecovery({ sender, seen }, state);
      expect(seen).toEqual(['https://x.test/cb?after']);
    }, 30_000);

    it('never lets ioredis send again, after a reconnect, a write whose signal fired once it had left', async () => {
      const state = 'abandoned';
      const { proxy, sender, seen } = await bed.proxiedPair(state, { sendTimeoutMs: 20_000 });
      proxy.freeze();
      const controller = new AbortController();
      const sending = sender.send(callbackMessage({ url: 'https://x.test/cb?abandoned', state }), {
        signal: controller.signal,
      });
      await sleep(100);
      controller.abort(new Error('gave up'));
      await expect(sending).rejects.toThrow('gave up');
      // The write waits in ioredis for the next connection, well within its own deadline.
      proxy.cut();
      await sleep(300);
      proxy.restore();
      await sendAfterRecovery({ sender, seen }, state);
      expect(seen).toEqual(['https://x.test/cb?after']);
    }, 30_000);

    it('settles a write still unanswered when the handler closes as unconfirmed', async () => {
      const state = 'closing';
      const { proxy, sender } = await pair(state);
      proxy.freeze();
      const sending = sender.send(callbackMessage({ url: 'https://x.test/cb?closing', state }));
      const rejected = expect(sending).rejects.toBeInstanceOf(AMQUnconfirmedSendError);
      await sleep(100);
      await sender.close();
      await rejected;
    }, 30_000);
  },
);
