import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const DEMO_DIR = fileURLToPath(new URL('../..', import.meta.url));
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** The demo running as its own process, as `pnpm demo` starts it. */
export interface DemoProcess {
  /** The base URL it printed. */
  readonly url: string;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `src/main.ts --role <role>` with the given environment and waits
 * for the URL it prints; rejects with its output if it exits first.
 */
export function startDemoProcess(
  role: 'listener' | 'dispatcher' | 'both',
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<DemoProcess> {
  const child = spawn(
    process.execPath,
    ['--conditions=@teal/source', '--import', 'tsx', 'src/main.ts', '--role', role],
    { cwd: DEMO_DIR, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(child);
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  exited.then(() => children.delete(child));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`the ${role} did not start within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /^listening on (http:\/\/\S+)$/m.exec(output)?.[1];
      if (url !== undefined) {
        clearTimeout(timer);
        resolve({ url, output: () => output, stop });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the ${role} exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
}
