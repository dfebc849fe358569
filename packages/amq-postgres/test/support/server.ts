import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** Loopback ports the private servers take, clear of the shared one on 5432. */
const PORTS = [5440, 5441, 5442, 5443, 5444, 5445, 5446, 5447, 5448, 5449];
/** PostgreSQL refuses to run as root: as root, the server runs as this user. */
const SERVER_USER = 'postgres';

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The command line, run as the server's user when this process is root. */
function asServerUser(command: string, args: readonly string[]): [string, string[]] {
  return userInfo().uid === 0
    ? ['runuser', ['-u', SERVER_USER, '--', command, ...args]]
    : [command, [...args]];
}

/**
 * A private PostgreSQL on a loopback port of its own (5440–5449), in a
 * fresh data directory, for tests that stop and restart it. Stopped by PID;
 * the shared server is never touched.
 */
export class PrivateServer {
  readonly port: number;
  readonly #directory: string;
  #process: ChildProcess | null = null;

  private constructor(port: number, directory: string) {
    this.port = port;
    this.#directory = directory;
  }

  static async start(): Promise<PrivateServer> {
    let port: number | undefined;
    for (const candidate of PORTS) {
      if (await isPortFree(candidate)) {
        port = candidate;
        break;
      }
    }
    if (port === undefined)
      throw new Error('no free port among 5440–5449 for a private PostgreSQL');
    const directory = await mkdtemp(join(tmpdir(), 'teal-pg-'));
    if (userInfo().uid === 0) {
      const { stdout } = await run('id', ['-u', SERVER_USER]);
      const { stdout: group } = await run('id', ['-g', SERVER_USER]);
      await chown(directory, Number(stdout.trim()), Number(group.trim()));
    }
    const data = join(directory, 'data');
    const [command, args] = asServerUser('initdb', [
      '-D',
      data,
      '-U',
      'postgres',
      '--auth=trust',
      '--no-sync',
      '-E',
      'UTF8',
    ]);
    await run(command, args, { timeout: 120_000 });
    const server = new PrivateServer(port, directory);
    await server.restart();
    return server;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** Starts the server (again, same port and data) unless it runs, and waits until it answers. */
  async restart(): Promise<void> {
    if (this.#process !== null && this.#process.exitCode === null) return;
    // biome-ignore format: one setting per pair
    const [command, args] = asServerUser('postgres', [
      '-D', join(this.#directory, 'data'), '-p', String(this.port),
      '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${this.#directory}`,
      '-c', 'max_connections=50', '-c', 'shared_buffers=32MB',
    ]);
    const child = spawn(command, args, { stdio: 'ignore' });
    child.on('error', () => {});
    this.#process = child;
    const deadline = Date.now() + 60_000;
    while (!(await this.#answers())) {
      if (Date.now() > deadline)
        throw new Error(`private PostgreSQL on ${this.port} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /**
   * Stops the postmaster by its PID: `SIGQUIT` is an immediate shutdown, as a
   * crash (recovery from WAL at the next start), `SIGINT` a fast one.
   */
  async stop(mode: 'immediate' | 'fast' = 'immediate'): Promise<void> {
    const child = this.#process;
    this.#process = null;
    if (child === null || child.exitCode !== null) return;
    const pid = await this.#postmasterPid();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (pid !== null) process.kill(pid, mode === 'immediate' ? 'SIGQUIT' : 'SIGINT');
    else child.kill('SIGINT');
    await exited;
  }

  /** Stops the server and removes its data. */
  async destroy(): Promise<void> {
    await this.stop('fast');
    await rm(this.#directory, { recursive: true, force: true });
  }

  async #postmasterPid(): Promise<number | null> {
    try {
      const text = await readFile(join(this.#directory, 'data', 'postmaster.pid'), 'utf8');
      const pid = Number(text.split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    } catch {
      return null;
    }
  }

  async #answers(): Promise<boolean> {
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 1_000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  }
}

/** Why a private server cannot be started here (no initdb on PATH), or null. */
export async function privateServerMissing(): Promise<string | null> {
  try {
    await run('initdb', ['--version']);
    return null;
  } catch {
    return 'initdb is not on PATH (install PostgreSQL server binaries)';
  }
}
