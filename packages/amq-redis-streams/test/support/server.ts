import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { waitFor } from './redis';

const run = promisify(execFile);

/** A free loopback TCP port (free when asked: good enough for a test). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        resolve(typeof address === 'object' && address !== null ? address.port : 0),
      );
    });
  });
}

/** A private redis-server on a loopback port, for tests that stop and restart it. */
export class PrivateRedis {
  readonly port: number;
  readonly #directory: string;
  readonly #extraArguments: readonly string[];
  #process: ChildProcess | null = null;

  private constructor(port: number, directory: string, extraArguments: readonly string[]) {
    this.port = port;
    this.#directory = directory;
    this.#extraArguments = extraArguments;
  }

  static async start(extraArguments: readonly string[] = []): Promise<PrivateRedis> {
    const directory = await mkdtemp(join(tmpdir(), 'teal-redis-'));
    const server = new PrivateRedis(await freePort(), directory, extraArguments);
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get isRunning(): boolean {
    return this.#process !== null && this.#process.exitCode === null;
  }

  /** Starts the server (again, on the same port) unless it runs, and waits until it answers. */
  async restart(): Promise<void> {
    if (this.isRunning) return;
    // biome-ignore format: one option per pair
    this.#process = spawn('redis-server', [
      '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--daemonize', 'no', '--dir', this.#directory, ...this.#extraArguments,
    ], { stdio: 'ignore' });
    this.#process.on('error', () => {});
    await waitFor(`redis-server on port ${this.port}`, () => this.#answers(), 20_000);
  }

  /** Kills the server at once, as a crash would. */
  async kill(): Promise<void> {
    const child = this.#process;
    this.#process = null;
    if (child === null || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    await rm(this.#directory, { recursive: true, force: true });
  }

  async #answers(): Promise<boolean> {
    const client = new Redis(this.url, {
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    });
    client.on('error', () => {});
    try {
      await client.connect();
      return (await client.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      client.disconnect();
    }
  }
}

/** Whether a redis-server binary is on PATH: null, or why not. */
export async function redisServerMissing(): Promise<string | null> {
  try {
    await run('redis-server', ['--version']);
    await run('redis-cli', ['--version']);
    return null;
  } catch {
    return 'redis-server and redis-cli are not on PATH';
  }
}

/** Runs redis-cli with these arguments. */
export async function redisCli(args: readonly string[]): Promise<string> {
  const { stdout } = await run('redis-cli', [...args], { timeout: 60_000 });
  return stdout;
}
