import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/** The built binary, run with plain node as an installed package runs it. */
export const CLI = join(__dirname, '../../dist/cli.js');

export interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** How long the process ran, in milliseconds. */
  readonly ms: number;
}

/** What the child sees: this process's environment without the settings a test gives itself. */
function childEnv(env: Readonly<Record<string, string | undefined>>): NodeJS.ProcessEnv {
  const {
    AMQP_URL: _url,
    AMQP_EXCHANGE_PREFIX: _prefix,
    NO_COLOR: _noColor,
    FORCE_COLOR: _force,
    // Set by the package manager's shims: it reaches the workspace's packages; a shell has none.
    NODE_PATH: _nodePath,
    ...rest
  } = process.env;
  return { ...rest, ...env };
}

/**
 * The children still running: a test that fails before it stops its own
 * leaves them here. Killed once the file's tests are done — not after each
 * test, which would kill the children of the tests running concurrently.
 */
const running = new Set<ChildProcess>();

afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
});

/** A running `teal-amq`: its output so far, and ways to wait for a line or the end. */
export class RunningCli {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Finished>;

  constructor(
    args: readonly string[],
    env: Readonly<Record<string, string | undefined>> = {},
    input?: string,
  ) {
    const started = performance.now();
    this.child = spawn(process.execPath, [CLI, ...args], { env: childEnv(env), stdio: 'pipe' });
    running.add(this.child);
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.child.stdin!.end(input);
    this.exited = new Promise((resolve, reject) => {
      this.child.once('error', reject);
      this.child.once('close', (code) => {
        running.delete(this.child);
        resolve({
          code,
          stdout: this.stdout,
          stderr: this.stderr,
          ms: performance.now() - started,
        });
      });
    });
  }

  /** Resolves once stderr matches (the "listening"/"waiting" line); rejects with what it printed. */
  async untilStderr(pattern: RegExp, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let ended = false;
    void this.exited.then(() => {
      ended = true;
    });
    while (!pattern.test(this.stderr)) {
      if (ended || Date.now() > deadline) {
        throw new Error(
          `no ${pattern} on stderr${ended ? ' (it exited)' : ''}; stdout: ${this.stdout}; stderr: ${this.stderr}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** Runs `teal-amq` to its end. */
export function runCli(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
  input?: string,
): Promise<Finished> {
  return new RunningCli(args, env, input).exited;
}
