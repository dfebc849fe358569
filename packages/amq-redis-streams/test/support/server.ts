import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { pollBroker } from './broker';

const run = promisify(execFile);

/** The loopback ports private servers take, one each: clear of the shared Redis and of a local cluster's. */
const PORTS = Array.from({ length: 10 }, (_, i) => 6390 + i);
/** Where each reserved port's lock file lives. */
const LOCKS = join(tmpdir(), 'teal-redis-test-ports');

/** A port of PORTS reserved for this process, until `release()`. */
interface Reservation {
  readonly port: number;
  release(): Promise<void>;
}

/**
 * Reserves a free port of PORTS with a lock file per port (created
 * exclusively, naming this process), so that test files running side by side
 * never start two servers on one port, nor take the port of one that is down
 * for a restart. A lock whose process is gone is taken over.
 */
async function reservePort(): Promise<Reservation> {
  await mkdir(LOCKS, { recursive: true });
  const start = Math.floor(Math.random() * PORTS.length);
  for (let i = 0; i < PORTS.length; i++) {
    const port = PORTS[(start + i) % PORTS.length]!;
    const lock = join(LOCKS, `${port}.lock`);
    if (!(await takeLock(lock)) || !(await isFree(port))) continue;
    return { port, release: () => rm(lock, { force: true }) };
  }
  throw new Error(`every port from ${PORTS[0]} to ${PORTS.at(-1)} is taken`);
}

async function takeLock(lock: string): Promise<boolean> {
  try {
    await writeFile(lock, String(process.pid), { flag: 'wx' });
    return true;
  } catch {
    const owner = Number(await readFile(lock, 'utf8').catch(() => ''));
    if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) return false;
    await rm(lock, { force: true });
    return writeFile(lock, String(process.pid), { flag: 'wx' }).then(
      () => true,
      () => false,
    );
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether nothing listens on the loopback port (something outside the tests may). */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A private redis-server on a loopback port of its own (6390–6399), for tests
 * that stop and restart it; stopped by its process, never by name.
 */
export class PrivateRedis {
  readonly port: number;
  readonly #reservation: Reservation;
  readonly #directory: string;
  readonly #extraArguments: readonly string[];
  #process: ChildProcess | null = null;

  private constructor(
    reservation: Reservation,
    directory: string,
    extraArguments: readonly string[],
  ) {
    this.port = reservation.port;
    this.#reservation = reservation;
    this.#directory = directory;
    this.#extraArguments = extraArguments;
  }

  static async start(extraArguments: readonly string[] = []): Promise<PrivateRedis> {
    const directory = await mkdtemp(join(tmpdir(), 'teal-redis-'));
    const server = new PrivateRedis(await reservePort(), directory, extraArguments);
    try {
      await server.restart();
    } catch (error) {
      await server.stop();
      throw error;
    }
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
    await pollBroker(() => this.#answers(), `redis-server on port ${this.port}`, 20_000);
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
    await this.#reservation.release();
  }

  /** Whether this server — not another one on the port — answers. */
  async #answers(): Promise<boolean> {
    const child = this.#process;
    if (child === null || child.exitCode !== null) {
      throw new Error(`redis-server on port ${this.port} exited (${String(child?.exitCode)})`);
    }
    const info = await askServer(this.url, (client) => client.info('server'));
    return info !== null && new RegExp(`^process_id:${child.pid}\\r?$`, 'm').test(info);
  }
}

/** What `ask` gets from the server at `url` on a connection of its own, or null if it does not answer. */
export async function askServer<T>(
  url: string,
  ask: (client: Redis) => Promise<T>,
): Promise<T | null> {
  const client = new Redis(url, {
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await ask(client);
  } catch {
    return null;
  } finally {
    client.disconnect();
  }
}

/** A private server for the tests of a file: started before them, restarted after each (a test may kill it), stopped after all. */
export function usePrivateRedis(): { readonly server: PrivateRedis } {
  let server: PrivateRedis | null = null;
  beforeAll(async () => {
    server = await PrivateRedis.start();
  });
  afterEach(async () => {
    await server?.restart().catch(() => {});
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get server(): PrivateRedis {
      if (server === null) throw new Error('the private server starts in beforeAll');
      return server;
    },
  };
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
