import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AMQHandler } from '@teal/amq-core';
import { probeBroker } from '@teal/amq-core/testing';
import { afterAll, beforeAll } from 'vitest';
import { connect, type NatsConnectOptions } from '../../src/index';

/** The nats-server binary private servers run. */
export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

/** Client ports of the package's private servers; their monitoring ports are these + 4000. */
const PRIVATE_PORTS = Array.from({ length: 10 }, (_, i) => 4230 + i);
const MONITOR_OFFSET = 4000;

/**
 * A nats-server of the test's own on a loopback port of 4230-4239 (monitoring,
 * when asked for, on 8230-8239), which it may kill and restart, by PID.
 */
export class PrivateServer {
  readonly port: number;
  readonly url: string;
  /** The monitoring endpoint (`http://127.0.0.1:<port>`), when started with it. */
  readonly monitorUrl: string | undefined;
  readonly #dir: string;
  readonly #config: string;
  #process: ChildProcess | undefined;

  private constructor(port: number, config: string, isMonitored: boolean) {
    this.port = port;
    this.url = `nats://127.0.0.1:${port}`;
    this.monitorUrl = isMonitored ? `http://127.0.0.1:${port + MONITOR_OFFSET}` : undefined;
    this.#dir = mkdtempSync(join(tmpdir(), 'teal-nats-'));
    this.#config = join(this.#dir, 'server.conf');
    writeFileSync(this.#config, `${config}\n`);
  }

  /**
   * Starts a server with JetStream in a fresh store directory on the first free
   * port of the range; `config` adds lines (`max_payload: 65536`).
   */
  static async start(
    config = '',
    { monitoring = false }: { monitoring?: boolean } = {},
  ): Promise<PrivateServer> {
    const ports = [...PRIVATE_PORTS].sort(() => Math.random() - 0.5);
    for (const port of ports) {
      if (!(await isFree(port)) || (monitoring && !(await isFree(port + MONITOR_OFFSET)))) continue;
      const server = new PrivateServer(port, config, monitoring);
      try {
        await server.restart();
        return server;
      } catch {
        // Another test file took the port meanwhile: the next one.
        await server.stop();
      }
    }
    throw new Error('no free port for a private nats-server in 4230-4239');
  }

  /** The server's process id, while it runs. */
  get pid(): number | undefined {
    return this.#process?.exitCode === null ? this.#process.pid : undefined;
  }

  /** Starts the server again on the same port and store. */
  async restart(): Promise<void> {
    const args = [
      '-a',
      '127.0.0.1',
      '-p',
      String(this.port),
      '-js',
      '-sd',
      join(this.#dir, 'store'),
      '-c',
      this.#config,
      ...(this.monitorUrl ? ['-m', String(this.port + MONITOR_OFFSET)] : []),
    ];
    const child = spawn(NATS_SERVER_BIN, args, { stdio: 'ignore' });
    let failure: Error | undefined;
    child.once('error', (error) => {
      failure = error;
    });
    this.#process = child;
    const deadline = Date.now() + 20_000;
    while ((await probeBroker(this.url, 500)) !== null) {
      if (failure !== undefined || child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`the private nats-server did not start on port ${this.port}`, {
          cause: failure,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Kills the server as a crash would (SIGKILL to its PID). */
  async kill(): Promise<void> {
    const child = this.#process;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** Why a private server cannot run here, or `null`. */
export function privateServerUnavailable(): string | null {
  return existsSync(NATS_SERVER_BIN) ? null : `no nats-server binary at ${NATS_SERVER_BIN}`;
}

/** Whether nothing listens on the loopback port. */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A private server for one test file, started before its tests and stopped
 * (by PID) after them: `server()` once the file started, and `handler()`,
 * which connects to it and closes the handler after the file.
 */
export function privateServerForFile(config = '') {
  let server: PrivateServer | undefined;
  const handlers: AMQHandler[] = [];
  beforeAll(async () => {
    server = await PrivateServer.start(config);
  });
  afterAll(async () => {
    await Promise.allSettled(handlers.map((handler) => handler.close()));
    await server?.stop();
  });
  return {
    server: () => server!,
    handler: async (options: Partial<NatsConnectOptions> & { exchangePrefix: string }) => {
      const made = await connect({ url: server!.url, ...options });
      handlers.push(made);
      return made;
    },
  };
}
