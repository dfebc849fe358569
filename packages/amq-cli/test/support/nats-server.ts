import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Whether `nats-server` is installed, for the tests that need a server of their own. */
export function hasNatsServer(): boolean {
  try {
    execFileSync('nats-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A private NATS server that requires a user and password, on a loopback
 * port the OS picks (`-p -1`), read back from its log. `stop()` kills it by PID.
 */
export async function startNatsWithAuth(
  user: string,
  password: string,
): Promise<{ port: number; stop(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'teal-cli-nats-'));
  const log = join(dir, 'nats.log');
  const child: ChildProcess = spawn(
    'nats-server',
    ['-a', '127.0.0.1', '-p', '-1', '--user', user, '--pass', password, '-l', log],
    { stdio: 'ignore' },
  );
  const stop = () => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    let text = '';
    try {
      text = readFileSync(log, 'utf8');
    } catch {
      // Not written yet.
    }
    const port = /client connections on 127\.0\.0\.1:(\d+)/.exec(text)?.[1];
    if (port !== undefined) return { port: Number(port), stop };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  stop();
  throw new Error('the private nats-server did not start listening within 20 s');
}
