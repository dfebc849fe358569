import { describe, expect, it } from 'vitest';
import { ServerClock } from '../src/connection-clock';

/** A server whose clock is `aheadMs` ahead of ours, answering after `delayMs`. */
function server(aheadMs: number) {
  let delayMs = 0;
  return {
    setDelay(ms: number) {
      delayMs = ms;
    },
    async eval(): Promise<unknown> {
      const now = Date.now() + aheadMs;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return [String(Math.floor(now / 1_000)), String((now % 1_000) * 1_000)];
    },
  };
}

describe('ServerClock', () => {
  it('turns a local deadline into server time, never later than the true one', async () => {
    const redis = server(60_000);
    const clock = new ServerClock(redis, 'key');
    await clock.measure();
    const local = Date.now();
    const onServer = clock.toServer(local);
    expect(onServer).toBeLessThanOrEqual(local + 60_000);
    expect(onServer).toBeGreaterThan(local + 60_000 - 50);
  });

  it('keeps the best recent measurement when a reply is read late, until the connection drops', async () => {
    const redis = server(-5_000);
    const clock = new ServerClock(redis, 'key');
    await clock.measure();
    const good = clock.toServer(0);
    redis.setDelay(300);
    await clock.measure();
    expect(clock.toServer(0)).toBe(good);
    clock.forget();
    await clock.measure();
    expect(clock.toServer(0)).toBeLessThanOrEqual(good - 250);
  });
});
