import { describe, expect, it } from 'vitest';
import { Bindings, type BrokerOperation } from '../src/bindings';
import { sleep } from '../src/testing/index';

/** A broker that records operations and answers each after `delayMs`, or fails the keys in `refused`. */
function recordingBroker(delayMs = 0, refused = new Set<string>()) {
  const calls: string[] = [];
  const operation: BrokerOperation = async (op, _exchange, key, signal) => {
    calls.push(`${op} ${key}`);
    await sleep(delayMs);
    if (refused.has(key)) throw new Error(`refused ${key}`);
    void signal;
  };
  return { calls, operation };
}

const signal = () => new AbortController().signal;

describe('reference-counted bindings', () => {
  it('binds on the first holder and unbinds after the last', async () => {
    const { calls, operation } = recordingBroker();
    const bindings = new Bindings(operation, () => {});
    const [a, b] = [{}, {}];
    await Promise.all([
      bindings.hold('callbacks', 'k', a, signal()),
      bindings.hold('callbacks', 'k', b, signal()),
    ]);
    expect(calls).toEqual(['bind k']);
    await bindings.release('callbacks', 'k', a, signal());
    expect(bindings.has('callbacks', 'k')).toBe(true);
    await bindings.release('callbacks', 'k', b, signal());
    expect(bindings.has('callbacks', 'k')).toBe(false);
    expect(calls).toEqual(['bind k', 'unbind k']);
    expect([...bindings.entries()]).toEqual([]);
  });

  it('keeps the key until the last of several holders lets go, whatever their order', async () => {
    for (const order of [
      [0, 1, 2],
      [2, 1, 0],
      [1, 2, 0],
    ]) {
      const { calls, operation } = recordingBroker();
      const bindings = new Bindings(operation, () => {});
      const holders = [{}, {}, {}];
      for (const holder of holders) await bindings.hold('callbacks', 'k', holder, signal());
      for (const holder of holders) expect(bindings.isHeldBy('callbacks', 'k', holder)).toBe(true);
      for (const [step, index] of order.entries()) {
        await bindings.release('callbacks', 'k', holders[index]!, signal());
        expect(bindings.isHeldBy('callbacks', 'k', holders[index]!)).toBe(false);
        expect(bindings.has('callbacks', 'k')).toBe(step < order.length - 1);
      }
      expect(calls).toEqual(['bind k', 'unbind k']);
      expect(bindings.size).toBe(0);
    }
  });

  it('counts a holder once however often it holds', async () => {
    const { calls, operation } = recordingBroker();
    const bindings = new Bindings(operation, () => {});
    const holder = {};
    await bindings.hold('callbacks', 'k', holder, signal());
    await bindings.hold('callbacks', 'k', holder, signal());
    await bindings.release('callbacks', 'k', holder, signal());
    expect(calls).toEqual(['bind k', 'unbind k']);
  });

  it('runs a key’s operations in call order and ends in the state of the last call', async () => {
    const { calls, operation } = recordingBroker(5);
    const bindings = new Bindings(operation, () => {});
    const holder = {};
    const steps = [
      bindings.hold('callbacks', 'k', holder, signal()),
      bindings.release('callbacks', 'k', holder, signal()),
      bindings.hold('callbacks', 'k', holder, signal()),
    ];
    await Promise.all(steps);
    expect(calls).toEqual(['bind k', 'unbind k', 'bind k']);
    expect(bindings.has('callbacks', 'k')).toBe(true);
  });

  it('lets every holder go when the bind they waited for fails', async () => {
    const { operation } = recordingBroker(5, new Set(['k']));
    const bindings = new Bindings(operation, () => {});
    const results = await Promise.allSettled([
      bindings.hold('callbacks', 'k', {}, signal()),
      bindings.hold('callbacks', 'k', {}, signal()),
    ]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(bindings.has('callbacks', 'k')).toBe(false);
  });

  it('undoes a bind that the broker confirmed after its deadline, unless the key is held again', async () => {
    const { calls, operation } = recordingBroker(50);
    const bindings = new Bindings(operation, () => {});
    const deadline = new AbortController();
    const held = bindings.hold('callbacks', 'k', {}, deadline.signal);
    setTimeout(() => deadline.abort(new Error('too late')), 10);
    await expect(held).rejects.toThrow('too late');
    expect(bindings.has('callbacks', 'k')).toBe(false);
    await sleep(150);
    expect(calls).toEqual(['bind k', 'unbind k']);
  });
});
