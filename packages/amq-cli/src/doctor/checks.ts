import { performance } from 'node:perf_hooks';
import { type AMQSettings, adapterPackageOf, connect, type Logger, maskUrl } from '@teal/amq-core';
import { type CallbackMessage, callbackMessage } from '@teal/messages';
import { formatMs } from '../values';
import { type BrokerInfo, brokerInfo } from './broker-info';
import { ClientUnavailableError, installedVersion } from './client';
import { diagnose } from './diagnose';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

/** One step of `doctor`, as shown and as `--json` gives it. */
export interface Check {
  readonly name: string;
  readonly status: CheckStatus;
  readonly detail: string;
  readonly remedy?: string;
  readonly ms?: number;
}

/** The clocks may differ this much before `doctor` warns. */
const SKEW_WARNING_MS = 1_000;

/** Where `doctor` looks, and how long each step may take. */
export interface DoctorOptions {
  readonly settings: AMQSettings;
  readonly timeoutMs: number;
  /** Warnings the handler logs while doctor runs. */
  readonly logger: Logger;
}

/** A step failed: it was reported, and the steps after it are skipped. */
class StepFailed extends Error {}

const STEPS = ['adapter', 'broker', 'connect', 'bind', 'round trip', 'clock', 'close'];

/**
 * Runs the checks in order — adapter, broker, connect, bind, round trip,
 * clock, close — reporting each as it ends; after a failure the rest are
 * skipped. Returns what the broker told about itself, if it did.
 */
export async function runChecks(
  options: DoctorOptions,
  report: (check: Check) => void,
): Promise<{ broker: BrokerInfo | null }> {
  const { settings, timeoutMs } = options;
  const url = new URL(settings.url);
  const isMemory = url.protocol === 'memory:';
  let broker: BrokerInfo | null = null;

  /** Runs one step: ok with its detail and duration, or failed with the diagnosis. */
  const step = async <T>(name: string, work: () => Promise<T>, detail: (value: T) => string) => {
    const started = performance.now();
    try {
      const value = await work();
      report({ name, status: 'ok', detail: detail(value), ms: performance.now() - started });
      return value;
    } catch (error) {
      const { problem, remedy } = diagnose(error, settings.url);
      report({ name, status: 'fail', detail: problem, remedy, ms: performance.now() - started });
      throw new StepFailed(name);
    }
  };

  try {
    const adapter = adapterCheck(url);
    report(adapter);
    if (adapter.status === 'fail') throw new StepFailed('adapter');
    if (isMemory) {
      report({
        name: 'broker',
        status: 'ok',
        detail: 'memory: lives in this process, shared by nothing else',
      });
    } else {
      broker = await step(
        'broker',
        () => brokerInfo(settings.url, timeoutMs).catch(versionUnknown),
        (info) => describeBroker(info, url),
      );
    }
    const handler = await step(
      'connect',
      () => connect({ ...settings, sendTimeoutMs: timeoutMs, logger: options.logger }),
      () => 'handler connected, exchanges ready',
    );
    let isClosed = false;
    try {
      const key = `doctor-${Math.random().toString(36).slice(2, 12)}`;
      let onBound = () => {};
      const bound = new Promise<void>((resolve) => {
        onBound = resolve;
      });
      const arrival = handler.waitFor('callback', key, { timeoutMs: timeoutMs * 2, onBound });
      arrival.catch(() => {});
      await step(
        'bind',
        () => Promise.race([bound, arrival]),
        () => `callback key ${key} bound`,
      );
      const sent = callbackMessage({
        state: key,
        url: `https://teal-amq.invalid/doctor?state=${key}`,
      });
      let confirmedMs = 0;
      const received = await step(
        'round trip',
        async () => {
          const started = performance.now();
          await handler.send(sent);
          confirmedMs = performance.now() - started;
          return { message: await arrival, ms: performance.now() - started };
        },
        ({ ms }) =>
          `one callback message: accepted by the broker in ${formatMs(confirmedMs)}, delivered in ${formatMs(ms)}`,
      );
      report(clockCheck(broker, sent, received.message, isMemory));
      isClosed = true;
      await step(
        'close',
        () => handler.close(),
        () => 'handler closed, its broker resources released',
      );
    } finally {
      if (!isClosed) await handler.close().catch(() => {});
    }
  } catch (error) {
    if (!(error instanceof StepFailed)) throw error;
    for (const name of STEPS.slice(STEPS.indexOf(error.message) + 1)) {
      report({ name, status: 'skip', detail: `skipped: ${error.message} failed` });
    }
  }
  return { broker };
}

/** Whether the adapter package of the URL's scheme is installed where core looks for it. */
function adapterCheck(url: URL): Check {
  const isMemory = url.protocol === 'memory:';
  const packageName = isMemory ? '@teal/amq-core' : adapterPackageOf(url.protocol);
  const version = packageName === undefined ? null : installedVersion(packageName);
  if (packageName !== undefined && version !== null) {
    return {
      name: 'adapter',
      status: 'ok',
      detail: isMemory
        ? `the in-process broker of ${packageName} ${version}`
        : `${packageName} ${version}`,
    };
  }
  return packageName === undefined
    ? {
        name: 'adapter',
        status: 'fail',
        detail: `no adapter serves ${url.protocol} URLs`,
        remedy: 'use a memory://, amqp://, redis://, nats:// or postgres:// URL',
      }
    : {
        name: 'adapter',
        status: 'fail',
        detail: `${url.protocol} URLs need ${packageName}, which is not installed`,
        remedy: `install it beside the CLI: npm i @teal/amq-cli ${packageName} (or npx -p @teal/amq-cli -p ${packageName} teal-amq doctor)`,
      };
}

/** When the client library cannot be loaded, the broker's version stays unknown; the checks go on. */
function versionUnknown(error: unknown): null {
  if (error instanceof ClientUnavailableError) return null;
  throw error;
}

function describeBroker(info: BrokerInfo | null, url: URL): string {
  if (info === null)
    return `at ${where(url)}; its version is unknown (the client library was not found)`;
  const details = info.details.length === 0 ? '' : ` (${info.details.join(', ')})`;
  return `${info.product} ${info.version ?? '(version not told)'}${details} at ${where(url)}`;
}

function clockCheck(
  broker: BrokerInfo | null,
  sent: CallbackMessage,
  received: CallbackMessage,
  isMemory: boolean,
): Check {
  const shift = received.timestamp.getTime() - sent.timestamp.getTime();
  if (shift !== 0) {
    return {
      name: 'clock',
      status: 'fail',
      detail: `the message's timestamp came back ${shift} ms off what was sent: a time zone is lost on the wire`,
      remedy: 'check that every sender writes UTC timestamps (naive ISO 8601 is read as UTC)',
    };
  }
  const age = `timestamp kept, ${formatMs(Date.now() - received.timestamp.getTime())} old on arrival`;
  const clock = broker?.clock;
  if (clock === undefined) {
    const why = isMemory
      ? 'one process, one clock'
      : `${broker?.product ?? 'the broker'} does not tell its time`;
    return { name: 'clock', status: 'ok', detail: `${age}; ${why}` };
  }
  const ahead = clock.skewMs >= 0 ? 'ahead of' : 'behind';
  const detail = `${age}; the broker's clock is ${formatMs(Math.abs(clock.skewMs))} ${ahead} this machine's (±${formatMs(clock.uncertaintyMs)}, ${clock.source})`;
  if (Math.abs(clock.skewMs) - clock.uncertaintyMs > SKEW_WARNING_MS) {
    return {
      name: 'clock',
      status: 'warn',
      detail,
      remedy:
        'synchronise the clocks (NTP, chrony): Powens signatures are refused 5 minutes old, and timestamps are compared across machines',
    };
  }
  return { name: 'clock', status: 'ok', detail };
}

function where(url: URL): string {
  return maskUrl(`${url.protocol}//${url.host}`).replace(/^[a-z]+:\/\//, '');
}
