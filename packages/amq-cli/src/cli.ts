#!/usr/bin/env node
import { run } from './run';

// Ctrl-C (or SIGTERM) asks the running command to stop cleanly; a second one ends the process.
const interrupt = new AbortController();
const onSignal = (signal: NodeJS.Signals) => {
  if (interrupt.signal.aborted) process.exit(signal === 'SIGINT' ? 130 : 143);
  interrupt.abort(new Error(`stopped by ${signal}`));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  // Lazily: only a `-` value reads standard input.
  stdin: { [Symbol.asyncIterator]: () => process.stdin[Symbol.asyncIterator]() },
  env: process.env,
  signal: interrupt.signal,
}).then(
  (code) => {
    process.exitCode = code;
    // A broker client may keep a socket open a little after close(): do not wait for it.
    setTimeout(() => process.exit(code), 200).unref();
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
