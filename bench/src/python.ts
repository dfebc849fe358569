import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { callbacks, closing, deliverAll, pair, roundTrips } from './drive';
import { PYTHON_SCENARIO } from './report';
import type { Figures, Scenario, Sizes } from './scenarios';
import { percentile } from './stats';

/** Debian's python3 with python3-aio-pika and python3-pydantic (1.x), as the interop test uses. */
const PYTHON = process.env.TEAL_INTEROP_PYTHON ?? '/usr/bin/python3';
const PEER = fileURLToPath(new URL('../python/peer.py', import.meta.url));
const run = promisify(execFile);

/** Rates the Python peer must be beaten by, five times over. */
export const PYTHON_RATES = ['sequential msgs/s', 'pipelined msgs/s'] as const;

/**
 * The TypeScript adapter against the Python original's handler (aio-pika
 * with publisher confirms, a callback consumer; `bench/python/peer.py`) on
 * the same RabbitMQ: after as many untimed round trips on each side,
 * sequential send → callback round trips, then pipelined sends with as many
 * in flight as the throughput scenario. `remember` is told the Python peer's
 * prefix, whose exchanges the target removes after it.
 */
export function versusPython(url: string, remember: (prefix: string) => void): Scenario {
  return {
    name: PYTHON_SCENARIO,
    higherIsBetter: PYTHON_RATES,
    versus: {
      label: 'Python aio-pika peer',
      unavailable: pythonUnavailable,
      run: (prefix, sizes) => {
        remember(prefix);
        return runPythonPeer(url, prefix, sizes);
      },
    },
    async run(factory, prefix, sizes) {
      const [sender, receiver] = await pair(factory, prefix);
      return closing([sender, receiver], async () => {
        await receiver.bind('seq');
        await receiver.bind('pipe');
        await roundTrips(sender, receiver, ['seq'], sizes.python.warmUp);
        const start = performance.now();
        const samples = await roundTrips(sender, receiver, ['seq'], sizes.python.sequential);
        const sequentialMs = performance.now() - start;
        const messages = callbacks(sizes.python.pipelined, 'pipe');
        const pipelinedMs = await deliverAll(sender, [receiver], messages, sizes);
        return {
          'sequential msgs/s': (samples.length / sequentialMs) * 1000,
          'p50 µs': percentile(samples, 50),
          'p99 µs': percentile(samples, 99),
          'pipelined msgs/s': (messages.length / pipelinedMs) * 1000,
        };
      });
    },
  };
}

async function pythonUnavailable(): Promise<string | null> {
  try {
    await run(PYTHON, [
      '-c',
      'import aio_pika, pydantic; assert pydantic.VERSION.startswith("1."), pydantic.VERSION',
    ]);
    return null;
  } catch {
    return `${PYTHON} cannot import aio_pika and pydantic 1.x (apt-get install python3-aio-pika python3-pydantic, or set TEAL_INTEROP_PYTHON)`;
  }
}

/** Runs the Python peer once; the URL goes on its stdin, never on its command line. */
async function runPythonPeer(url: string, prefix: string, sizes: Sizes): Promise<Figures> {
  const spec = {
    url,
    prefix,
    warm_up: sizes.python.warmUp,
    sequential: sizes.python.sequential,
    pipelined: sizes.python.pipelined,
    in_flight: sizes.inFlight,
  };
  const child = run(PYTHON, [PEER], { timeout: 300_000, maxBuffer: 1024 * 1024 });
  child.child.stdin?.end(JSON.stringify(spec));
  let stdout: string;
  try {
    ({ stdout } = await child);
  } catch (error) {
    const { code, stderr } = error as { code?: unknown; stderr?: string };
    // The peer's traceback may quote the URL: only its last line, URL and password masked.
    const { password } = new URL(url);
    let last = (stderr ?? '').trim().split('\n').at(-1) ?? '';
    last = last.replaceAll(url, '<url>');
    if (password !== '') last = last.replaceAll(decodeURIComponent(password), '***');
    throw new Error(`the Python peer failed (exit ${String(code)}): ${last}`);
  }
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Figures;
}
