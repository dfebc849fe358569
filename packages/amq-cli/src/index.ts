/**
 * `@teal/amq-cli`: the `teal-amq` command line. `run()` is what the binary
 * calls, for embedding it or testing it in-process.
 */
export type { CliIo, OutputStream } from './io';
export { CliError, EXIT } from './io';
export { run, VERSION } from './run';
