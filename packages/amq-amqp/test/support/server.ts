import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeBroker, waitFor } from '@teal/amq-core/testing';
import { type RabbitNode, rabbitmqctl } from './rabbitmqctl';

const SERVER = process.env.TEAL_RABBITMQ_SERVER ?? '/usr/lib/rabbitmq/bin/rabbitmq-server';
/** The AMQP ports private nodes may take, each with its distribution port 20,000 above. */
const PORTS = { first: 5690, last: 5699 };

/** PID files of the nodes this process started: a worker that dies still kills its nodes. */
const started = new Set<string>();
process.on('exit', () => {
  for (const file of started) {
    try {
      process.kill(Number.parseInt(readFileSync(file, 'utf8'), 10), 'SIGKILL');
    } catch {
      // Gone already, or never written.
    }
  }
});

/**
 * A RabbitMQ node of its own, on a loopback port, for tests that stop and
 * start the broker: the shared one other suites use is never touched. It
 * runs the server script directly (the packaged wrappers switch user and
 * cookie), with its own data directory, config, cookie and node name, and is
 * stopped by its own PID.
 */
export class PrivateRabbit {
  readonly node: RabbitNode;
  readonly port: number;
  readonly #directory: string;
  #process: ChildProcess | null = null;

  private constructor(node: RabbitNode, port: number, directory: string) {
    this.node = node;
    this.port = port;
    this.#directory = directory;
  }

  /** Why no private node can run here, or `null`. */
  static async unavailable(): Promise<string | null> {
    try {
      await readFile(SERVER);
      return null;
    } catch {
      return `no RabbitMQ server script at ${SERVER} (TEAL_RABBITMQ_SERVER)`;
    }
  }

  /**
   * Starts a node on the first free port of 5690-5699 (its distribution port
   * 20,000 above) and waits for it: a node another run left behind on one of
   * them never stops this one.
   */
  static async start(): Promise<PrivateRabbit> {
    const port = await freePort();
    const directory = await mkdtemp(join(tmpdir(), 'teal-amqp-node-'));
    const home = join(directory, 'home');
    await mkdir(home);
    const cookie = join(home, '.erlang.cookie');
    await writeFile(cookie, randomBytes(15).toString('hex'));
    await chmod(cookie, 0o400);
    await writeFile(
      join(directory, 'rabbitmq.conf'),
      `listeners.tcp.default = 127.0.0.1:${port}\n`,
    );
    await writeFile(join(directory, 'rabbitmq-env.conf'), '');
    const name = `teal-amqp-test-${randomBytes(4).toString('hex')}@localhost`;
    const rabbit = new PrivateRabbit({ name, home }, port, directory);
    await rabbit.boot();
    return rabbit;
  }

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  /**
   * Starts the node's Erlang VM and RabbitMQ in it; resolves once it takes
   * connections. On a machine busy with every other suite a boot can outlast
   * its wait: the node is then killed and booted once more.
   */
  async boot(): Promise<void> {
    try {
      await this.#bootOnce();
    } catch {
      await this.kill();
      await this.#bootOnce();
    }
  }

  async #bootOnce(): Promise<void> {
    const directory = this.#directory;
    // A stale PID file would make `rabbitmqctl wait` watch a dead process.
    await rm(join(directory, 'pid'), { force: true });
    const child = spawn(SERVER, [], {
      env: {
        ...process.env,
        HOME: this.node.home,
        RABBITMQ_NODENAME: this.node.name,
        RABBITMQ_NODE_PORT: String(this.port),
        RABBITMQ_DIST_PORT: String(this.port + 20_000),
        RABBITMQ_MNESIA_BASE: join(directory, 'mnesia'),
        RABBITMQ_LOG_BASE: join(directory, 'log'),
        RABBITMQ_PID_FILE: join(directory, 'pid'),
        RABBITMQ_CONFIG_FILE: join(directory, 'rabbitmq.conf'),
        RABBITMQ_CONF_ENV_FILE: join(directory, 'rabbitmq-env.conf'),
        RABBITMQ_ENABLED_PLUGINS_FILE: join(directory, 'enabled_plugins'),
      },
      stdio: 'ignore',
    });
    child.on('error', () => {});
    this.#process = child;
    started.add(join(directory, 'pid'));
    await rabbitmqctl(['wait', '--timeout', '90', join(directory, 'pid')], this.node);
    await rabbitmqctl(['await_startup', '--timeout', '90'], this.node);
    // Started is not yet listening (seen on a busy machine): wait for the port itself.
    await waitFor(
      async () => (await probeBroker(this.url)) === null,
      `the private RabbitMQ node's port ${this.port}`,
      60_000,
      250,
    );
  }

  /** Stops RabbitMQ inside the node (connections closed, transient queues and exchanges gone). */
  async stopApp(): Promise<void> {
    await rabbitmqctl(['stop_app'], this.node);
  }

  async startApp(): Promise<void> {
    await rabbitmqctl(['start_app'], this.node);
  }

  /** Kills the node's VM outright (SIGKILL by its PID), as a crash or a power cut would. */
  async kill(): Promise<void> {
    const pid = await this.#pid();
    if (pid !== null) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      await waitForExit(pid);
    }
    this.#process?.kill('SIGKILL');
    this.#process = null;
  }

  /** Stops the node for good and removes its data. */
  async stop(): Promise<void> {
    try {
      await rabbitmqctl(['stop'], this.node);
    } catch {
      // Not answering: killed below.
    }
    await this.kill();
    await rm(this.#directory, { recursive: true, force: true });
  }

  async #pid(): Promise<number | null> {
    try {
      const pid = Number.parseInt(await readFile(join(this.#directory, 'pid'), 'utf8'), 10);
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    } catch {
      return null;
    }
  }
}

/** Resolves once the process is gone (or after 10 s). */
export async function waitForExit(pid: number): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

/** The first port of the range free both for AMQP and for distribution. */
async function freePort(): Promise<number> {
  for (let port = PORTS.first; port <= PORTS.last; port++) {
    if ((await isFree(port)) && (await isFree(port + 20_000))) return port;
  }
  throw new Error(`no free port for a private RabbitMQ node in ${PORTS.first}-${PORTS.last}`);
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}
