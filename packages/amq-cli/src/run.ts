import packageJson from '../package.json' with { type: 'json' };
import { parseCommandArgs } from './command';
import { COMMANDS } from './commands';
import { commandHelp, mainHelp } from './help';
import { CliError, type CliIo, EXIT, usageError } from './io';
import { styleFor } from './style';

/** The CLI's version, as published. */
export const VERSION: string = packageJson.version;

/**
 * Runs `teal-amq` with these arguments (without `node` and the script) and
 * resolves to the exit code. Writes only to `io`'s streams; never exits.
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const out = styleFor(io.stdout, io.env);
  const err = styleFor(io.stderr, io.env);
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      const command =
        name === 'help' ? COMMANDS.find((candidate) => candidate.name === rest[0]) : undefined;
      if (name === 'help' && rest[0] !== undefined && command === undefined)
        throw unknownCommand(rest[0]);
      io.stdout.write(
        command === undefined ? mainHelp(COMMANDS, VERSION, out) : commandHelp(command, out),
      );
      return name === undefined ? EXIT.usage : EXIT.ok;
    }
    if (name === '--version' || name === '-V') {
      io.stdout.write(`teal-amq ${VERSION}\n`);
      return EXIT.ok;
    }
    const command = COMMANDS.find((candidate) => candidate.name === name);
    if (command === undefined) throw unknownCommand(name);
    const parsed = parseCommandArgs(command, rest);
    if (parsed.values.help === true) {
      io.stdout.write(commandHelp(command, out));
      return EXIT.ok;
    }
    return await command.run(parsed, io);
  } catch (error) {
    if (io.signal?.aborted === true) {
      io.stderr.write(`${err.fail('interrupted')}\n`);
      return EXIT.interrupted;
    }
    if (error instanceof CliError) {
      io.stderr.write(`${err.fail('error:')} ${error.message}\n`);
      return error.exitCode;
    }
    // Not one of ours: its message only (the libraries keep secrets out of theirs), no stack.
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    io.stderr.write(`${err.fail('error:')} ${message}\n`);
    return EXIT.failure;
  }
}

function unknownCommand(name: string): CliError {
  const names = COMMANDS.map((command) => command.name).join(', ');
  return usageError(`unknown command ${JSON.stringify(name.slice(0, 40))}: use ${names}`);
}
