import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterTargets, probeSeeds } from '../src/clusters';

let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

// A port nothing listens on: the one just released by a throwaway server.
async function deadPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const free = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return free;
}

describe('probeSeeds', () => {
  it('finds a live seed among several, after credentials and before the path', async () => {
    const dead = await deadPort();
    const url = `amqp://guest:p%40ss@127.0.0.1:${dead},127.0.0.1:${port}/vhost?x=1`;
    expect(await probeSeeds(url)).toBeNull();
    expect(await probeSeeds(`redis+sentinel://127.0.0.1:${port}/teal`)).toBeNull();
  });

  it('says which seed does not answer when none does', async () => {
    const dead = await deadPort();
    expect(await probeSeeds(`nats://127.0.0.1:${dead}`)).toBe(
      `no broker answers at 127.0.0.1:${dead}`,
    );
    expect(await probeSeeds('not a url')).toBe('the cluster URL is not valid');
  });
});

describe('clusterTargets', () => {
  it('reads each URL from the environment, masks its password, and skips a cluster whose variable is unset', async () => {
    const targets = clusterTargets({
      TEAL_RABBITMQ_CLUSTER_URL: `amqp://guest:secret@127.0.0.1:${port}`,
    });
    const amqp = targets.find((t) => t.name === 'amqp (3 nodes)')!;
    expect(amqp.where).not.toContain('secret');
    expect(amqp.single).toBe('amqp');
    expect(await amqp.unavailable()).toBeNull();
    const nats = targets.find((t) => t.name === 'nats (durable, 3 nodes)')!;
    expect(nats.single).toBe('nats (durable)');
    expect(await nats.unavailable()).toMatch(/TEAL_NATS_CLUSTER_URL is not set/);
  });
});
