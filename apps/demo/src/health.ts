import type { FastifyInstance } from 'fastify';
import { replyText } from './listener/replies';

/** One thing the service needs before it takes traffic: the broker, the state store… */
export interface ReadinessCheck {
  /** What is wrong when the check fails, as `/readyz` says it: `not connected to the broker`. */
  readonly failure: string;
  /** Whether it is ready; a check that throws or takes over 2 s is not. */
  isReady(): boolean | Promise<boolean>;
}

const CHECK_TIMEOUT_MS = 2_000;

/**
 * What `/readyz` answers from: the readiness checks, and whether the process
 * is draining (after SIGTERM: it takes no new work, finishes what it has).
 */
export class ServiceState {
  readonly #checks: ReadinessCheck[] = [];
  #isDraining = false;

  get isDraining(): boolean {
    return this.#isDraining;
  }

  /** `/readyz` turns 503 and new WebSockets and listener requests are refused, for good. */
  startDraining(): void {
    this.#isDraining = true;
  }

  addReadinessCheck(check: ReadinessCheck): void {
    this.#checks.push(check);
  }

  /** What is not ready; empty when everything is. */
  async failures(): Promise<string[]> {
    const failed = await Promise.all(
      this.#checks.map(async (check) => ((await passes(check)) ? null : check.failure)),
    );
    const failures = failed.filter((failure): failure is string => failure !== null);
    return this.#isDraining ? ['draining: the service is stopping', ...failures] : failures;
  }
}

async function passes(check: ReadinessCheck): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([Promise.resolve(check.isReady()), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Paths that probes and scrapers call: logged at debug only, never refused while draining. */
export const PROBE_PATHS: ReadonlySet<string> = new Set([
  '/livez',
  '/readyz',
  '/healthz',
  '/metrics',
]);

/** `GET /livez` (the process serves), `GET /readyz` and its alias `GET /healthz`. */
export function registerHealthRoutes(app: FastifyInstance, state: ServiceState): void {
  app.get('/livez', async (_request, reply) => replyText(reply, 200, 'ok: serving'));
  const readiness = async (_request: unknown, reply: Parameters<typeof replyText>[0]) => {
    const failures = await state.failures();
    return failures.length === 0
      ? replyText(reply, 200, 'ready: connected to the broker, every check passes')
      : replyText(reply, 503, `not ready: ${failures.join('; ')}`);
  };
  app.get('/readyz', readiness);
  app.get('/healthz', readiness);
}
