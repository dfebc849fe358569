import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DEMO_DIR = fileURLToPath(new URL('../..', import.meta.url));
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * Builds `dist/main.js` when it is missing (`pnpm test` at the root builds it
 * first; a bare `vitest run` may not have).
 */
export function ensureBundle(): void {
  if (existsSync(`${DEMO_DIR}dist/main.js`)) return;
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'build.ts'], {
    cwd: DEMO_DIR,
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    throw new Error(`[@teal/demo] the build failed:\n${result.stdout}${result.stderr}`);
  }
}

/** The demo running as its own process, as `pnpm demo` starts it. */
export interface DemoProcess {
  /** The base URL it printed. */
  readonly url: string;
  /** Its process id (to read its memory from `/proc`). */
  readonly pid: number;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** What it wrote to stdout alone. */
  stdout(): string;
  /** Sends a signal; resolves with the exit code once the process ended. */
  signal(signal: NodeJS.Signals): Promise<number | null>;
  stop(): Promise<void>;
}

/** What to run: the TypeScript source through tsx (as `pnpm demo`), or the built bundle. */
export type DemoEntry = 'source' | 'bundle';

const COMMANDS: Record<DemoEntry, readonly string[]> = {
  source: ['--conditions=@teal/source', '--import', 'tsx', 'src/main.ts'],
  bundle: ['dist/main.js'],
};

/**
 * Starts the demo (`src/main.ts` through tsx, or the built `dist/main.js`)
 * with `--role <role>` and the given environment, and waits
 * for the URL it prints; rejects with its output if it exits first.
 */
export function startDemoProcess(
  role: 'listener' | 'dispatcher' | 'both',
  env: Record<string, string>,
  timeoutMs = 60_000,
  entry: DemoEntry = 'source',
): Promise<DemoProcess> {
  const child = spawn(process.execPath, [...COMMANDS[entry], '--role', role], {
    cwd: DEMO_DIR,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  let stdout = '';
  const exitCode = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const exited = exitCode.then(() => {});
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
        resolve({
          url,
          pid: child.pid!,
          output: () => output,
          stdout: () => stdout,
          signal: (signal) => {
            child.kill(signal);
            return exitCode;
          },
          stop,
        });
      }
    };
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      onData(chunk);
    });
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the ${role} exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
}
